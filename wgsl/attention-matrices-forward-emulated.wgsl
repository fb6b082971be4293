enable f16; enable subgroups;
// Causal attention on subgroup matrices, the forward (attention-matrices-forward-body.wgsl), with the matrices emulated by
// plain arrays (subgroup-matrix-spelling-emulated.wgsl): for tests on devices without them.

//#include "subgroup-matrix-spelling-emulated.wgsl"
//#include "attention-matrices-forward-body.wgsl"
