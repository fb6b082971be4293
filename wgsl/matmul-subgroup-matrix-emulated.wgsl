enable subgroups;
// The tensor-core matmul (matmul-subgroup-matrix-body.wgsl) with its subgroup matrices emulated
// by plain arrays (subgroup-matrix-spelling-emulated.wgsl): for tests on devices without them.

//#include "subgroup-matrix-spelling-emulated.wgsl"
//#include "matmul-subgroup-matrix-body.wgsl"
