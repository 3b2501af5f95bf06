"""The review of a proposed model: the gate, the pull-request report, the provenance check on merge, the model card."""
