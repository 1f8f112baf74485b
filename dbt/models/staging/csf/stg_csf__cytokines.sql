{#- Current CSF cytokine results: parsing, censoring and units in macros/cytokine_results.sql. -#}
{{ cytokine_results('csf', 'csf_cytokines', 'csf') }}
