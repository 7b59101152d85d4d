"""Stage-2 stencil modules shared by the generated descriptors, one per stencil part and
named by its hash (written by `codegen`, never by hand)."""
