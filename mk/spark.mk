# mk/spark.mk -- a Java runtime for pyspark's local mode (the Spark warehouse's tests start one
# local SparkSession per run; pyspark itself comes with the `spark` extra, in `all`).
#
# Included from the main Makefile (`include mk/spark.mk`), which also makes `install-test` (and so
# `make test`) depend on it; usable on its own:  make -f mk/spark.mk java
# apt-get runs only when `java` is missing, as root or through sudo when that is available; the
# tests never install anything (under CI=true a Spark test without Java fails).

# including this file must not change the includer's default goal (restored at the end)
_SPARK_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)
SPARK_JAVA_PKG ?= openjdk-17-jre-headless

.PHONY: java
java:
	@command -v java >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "java is missing: install $(SPARK_JAVA_PKG) (as root)" >&2; exit 1; fi; \
		$$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(SPARK_JAVA_PKG); }

install-test: java

.DEFAULT_GOAL := $(_SPARK_SAVED_DEFAULT_GOAL)
