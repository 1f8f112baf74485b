{#- Current serum cytokine results: parsing, censoring and units in macros/cytokine_results.sql. -#}
{{ cytokine_results('serum', 'serum_cytokines', 'serum') }}
