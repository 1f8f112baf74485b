# The README's commands, nothing hidden. `make demo` on a fresh machine installs uv (pinned),
# the locked dependencies, generates the park2023 cohort and runs the pipeline once.
UV_VERSION := 0.13.9
UV := uv

.PHONY: setup demo test dev bench clean

# --compile-bytecode: Python then reads the installed packages' bytecode instead of compiling
# ~2,400 modules in every new process (dagster, dbt, pandas, scipy...), which it does on
# machines that set PYTHONDONTWRITEBYTECODE: 4-5 s per process, every run and dbt call.
setup:
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet "uv==$(UV_VERSION)"
	$(UV) sync --frozen --compile-bytecode

demo: setup
	$(UV) run warehouse synth --profile park2023 --out data/landing
	$(UV) run warehouse run

test: setup
	$(UV) run pytest

dev: setup
	$(UV) run warehouse dev

# The benchmark (docs/performance.md), outside the product: `make bench BENCH_ARGS="--subjects 1000"`.
BENCH_ARGS ?= --subjects 1000,3000,10000 --incremental --latency
bench: setup
	$(UV) run python -m benchmarks.warehouse_bench $(BENCH_ARGS)

clean:
	$(UV) run warehouse clean --landing
	rm -rf dbt/target dbt/logs
