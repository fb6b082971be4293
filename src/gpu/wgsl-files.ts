/** Every WGSL file, by name: the kernel loader (kernel.ts) reads sources and their includes here. */
import advanceCursor from "../../wgsl/advance-cursor.wgsl" with { type: "text" };
import attentionMatricesBackwardCommon from "../../wgsl/attention-matrices-backward-common.wgsl" with { type: "text" };
import attentionMatricesBackwardDkdv from "../../wgsl/attention-matrices-backward-dkdv.wgsl" with { type: "text" };
import attentionMatricesBackwardDq from "../../wgsl/attention-matrices-backward-dq.wgsl" with { type: "text" };
import attentionMatricesCommon from "../../wgsl/attention-matrices-common.wgsl" with { type: "text" };
import attentionMatrices from "../../wgsl/attention-matrices.wgsl" with { type: "text" };
import attentionBackwardDkdv from "../../wgsl/attention-backward-dkdv.wgsl" with { type: "text" };
import attentionBackwardDq from "../../wgsl/attention-backward-dq.wgsl" with { type: "text" };
import attentionCommon from "../../wgsl/attention-common.wgsl" with { type: "text" };
import attentionDecode from "../../wgsl/attention-decode.wgsl" with { type: "text" };
import attention from "../../wgsl/attention.wgsl" with { type: "text" };
import cast from "../../wgsl/cast.wgsl" with { type: "text" };
import copyRows from "../../wgsl/copy-rows.wgsl" with { type: "text" };
import crossEntropy from "../../wgsl/cross-entropy.wgsl" with { type: "text" };
import elementwise from "../../wgsl/elementwise.wgsl" with { type: "text" };
import embedAtCursor from "../../wgsl/embed-at-cursor.wgsl" with { type: "text" };
import embedding from "../../wgsl/embedding.wgsl" with { type: "text" };
import fill from "../../wgsl/fill.wgsl" with { type: "text" };
import grammar from "../../wgsl/grammar.wgsl" with { type: "text" };
import hourglassStep from "../../wgsl/hourglass-step.wgsl" with { type: "text" };
import hourglassUpsampleBackward from "../../wgsl/hourglass-upsample-backward.wgsl" with { type: "text" };
import hourglassUpsample from "../../wgsl/hourglass-upsample.wgsl" with { type: "text" };
import hourglass from "../../wgsl/hourglass.wgsl" with { type: "text" };
import linearAttention from "../../wgsl/linear-attention.wgsl" with { type: "text" };
import lossScale from "../../wgsl/loss-scale.wgsl" with { type: "text" };
import matmulCommon from "../../wgsl/matmul-common.wgsl" with { type: "text" };
import matmulSubgroupMatrix from "../../wgsl/matmul-subgroup-matrix.wgsl" with { type: "text" };
import matmul from "../../wgsl/matmul.wgsl" with { type: "text" };
import muon from "../../wgsl/muon.wgsl" with { type: "text" };
import newtonSchulz from "../../wgsl/newton-schulz.wgsl" with { type: "text" };
import optim from "../../wgsl/optim.wgsl" with { type: "text" };
import reduce from "../../wgsl/reduce.wgsl" with { type: "text" };
import rmsnorm from "../../wgsl/rmsnorm.wgsl" with { type: "text" };
import rope from "../../wgsl/rope.wgsl" with { type: "text" };
import rowsGemv from "../../wgsl/rows-gemv.wgsl" with { type: "text" };
import rowsLinear from "../../wgsl/rows-linear.wgsl" with { type: "text" };
import rowsQkvRope from "../../wgsl/rows-qkv-rope.wgsl" with { type: "text" };
import rowsSwigluUp from "../../wgsl/rows-swiglu-up.wgsl" with { type: "text" };
import sampling from "../../wgsl/sampling.wgsl" with { type: "text" };
import scaleByLossScale from "../../wgsl/scale-by-loss-scale.wgsl" with { type: "text" };
import subgroupMatrixEmulated from "../../wgsl/subgroup-matrix-emulated.wgsl" with { type: "text" };
import subgroupMatrixTemplated from "../../wgsl/subgroup-matrix-templated.wgsl" with { type: "text" };
import subgroupMatrix from "../../wgsl/subgroup-matrix.wgsl" with { type: "text" };
import swiglu from "../../wgsl/swiglu.wgsl" with { type: "text" };
import workgroupSum from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };

export const WGSL_FILES: Readonly<Record<string, string>> = {
  "advance-cursor.wgsl": advanceCursor,
  "attention-backward-dkdv.wgsl": attentionBackwardDkdv,
  "attention-backward-dq.wgsl": attentionBackwardDq,
  "attention-common.wgsl": attentionCommon,
  "attention-decode.wgsl": attentionDecode,
  "attention-matrices-backward-common.wgsl": attentionMatricesBackwardCommon,
  "attention-matrices-backward-dkdv.wgsl": attentionMatricesBackwardDkdv,
  "attention-matrices-backward-dq.wgsl": attentionMatricesBackwardDq,
  "attention-matrices-common.wgsl": attentionMatricesCommon,
  "attention-matrices.wgsl": attentionMatrices,
  "attention.wgsl": attention,
  "cast.wgsl": cast,
  "copy-rows.wgsl": copyRows,
  "cross-entropy.wgsl": crossEntropy,
  "elementwise.wgsl": elementwise,
  "embed-at-cursor.wgsl": embedAtCursor,
  "embedding.wgsl": embedding,
  "fill.wgsl": fill,
  "grammar.wgsl": grammar,
  "hourglass-step.wgsl": hourglassStep,
  "hourglass-upsample-backward.wgsl": hourglassUpsampleBackward,
  "hourglass-upsample.wgsl": hourglassUpsample,
  "hourglass.wgsl": hourglass,
  "linear-attention.wgsl": linearAttention,
  "loss-scale.wgsl": lossScale,
  "matmul-common.wgsl": matmulCommon,
  "matmul-subgroup-matrix.wgsl": matmulSubgroupMatrix,
  "matmul.wgsl": matmul,
  "muon.wgsl": muon,
  "newton-schulz.wgsl": newtonSchulz,
  "optim.wgsl": optim,
  "reduce.wgsl": reduce,
  "rmsnorm.wgsl": rmsnorm,
  "rope.wgsl": rope,
  "rows-gemv.wgsl": rowsGemv,
  "rows-linear.wgsl": rowsLinear,
  "rows-qkv-rope.wgsl": rowsQkvRope,
  "rows-swiglu-up.wgsl": rowsSwigluUp,
  "sampling.wgsl": sampling,
  "scale-by-loss-scale.wgsl": scaleByLossScale,
  "subgroup-matrix-emulated.wgsl": subgroupMatrixEmulated,
  "subgroup-matrix-templated.wgsl": subgroupMatrixTemplated,
  "subgroup-matrix.wgsl": subgroupMatrix,
  "swiglu.wgsl": swiglu,
  "workgroup-sum.wgsl": workgroupSum,
};
