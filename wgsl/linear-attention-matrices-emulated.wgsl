enable f16; enable subgroups;
// Linear attention's recurrence on subgroup matrices (linear-attention-matrices-body.wgsl) with
// the matrices emulated by plain arrays (subgroup-matrix-spelling-emulated.wgsl): for tests on
// devices without them.

//#include "subgroup-matrix-spelling-emulated.wgsl"
//#include "linear-attention-matrices-body.wgsl"
