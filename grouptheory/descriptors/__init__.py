"""Descriptor builders: stencils (stages 1–2), invariant families (stage 3), and `spec`,
which assembles them into a `DescriptorSpec` (see DESIGN.md)."""
