# What every C Makefile of the project shares (included after its variables,
# before its rules): quiet output unless `make V=1`, the output folder, clean.
# `all` stays the default goal.

OUTPUT ?= build

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.DEFAULT_GOAL := all
.PHONY: all clean
.DELETE_ON_ERROR:

$(OUTPUT):
	$(Q)mkdir -p $@

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT)
