/** Every WGSL file, by name: the kernel loader (kernel.ts) reads sources and their includes here. */
import advanceCursor from "../../wgsl/advance-cursor.wgsl" with { type: "text" };
import attentionMatricesBackwardCommon from "../../wgsl/attention-matrices-backward-common.wgsl" with { type: "text" };
import attentionMatricesCommon from "../../wgsl/attention-matrices-common.wgsl" with { type: "text" };
import attentionMatricesDkdvBody from "../../wgsl/attention-matrices-dkdv-body.wgsl" with { type: "text" };
import attentionMatricesDkdvEmulated from "../../wgsl/attention-matrices-dkdv-emulated.wgsl" with { type: "text" };
import attentionMatricesDkdvTemplated from "../../wgsl/attention-matrices-dkdv-templated.wgsl" with { type: "text" };
import attentionMatricesDkdv from "../../wgsl/attention-matrices-dkdv.wgsl" with { type: "text" };
import attentionMatricesDqBody from "../../wgsl/attention-matrices-dq-body.wgsl" with { type: "text" };
import attentionMatricesDqEmulated from "../../wgsl/attention-matrices-dq-emulated.wgsl" with { type: "text" };
import attentionMatricesDqTemplated from "../../wgsl/attention-matrices-dq-templated.wgsl" with { type: "text" };
import attentionMatricesDq from "../../wgsl/attention-matrices-dq.wgsl" with { type: "text" };
import attentionMatricesForwardBody from "../../wgsl/attention-matrices-forward-body.wgsl" with { type: "text" };
import attentionMatricesForwardEmulated from "../../wgsl/attention-matrices-forward-emulated.wgsl" with { type: "text" };
import attentionMatricesForwardTemplated from "../../wgsl/attention-matrices-forward-templated.wgsl" with { type: "text" };
import attentionMatricesForward from "../../wgsl/attention-matrices-forward.wgsl" with { type: "text" };
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
import linearAttentionCommon from "../../wgsl/linear-attention-common.wgsl" with { type: "text" };
import linearAttentionMatricesBody from "../../wgsl/linear-attention-matrices-body.wgsl" with { type: "text" };
import linearAttentionMatricesEmulated from "../../wgsl/linear-attention-matrices-emulated.wgsl" with { type: "text" };
import linearAttentionMatricesTemplated from "../../wgsl/linear-attention-matrices-templated.wgsl" with { type: "text" };
import linearAttentionMatrices from "../../wgsl/linear-attention-matrices.wgsl" with { type: "text" };
import linearAttention from "../../wgsl/linear-attention.wgsl" with { type: "text" };
import lossScale from "../../wgsl/loss-scale.wgsl" with { type: "text" };
import matmulCommon from "../../wgsl/matmul-common.wgsl" with { type: "text" };
import matmulSubgroupMatrixBody from "../../wgsl/matmul-subgroup-matrix-body.wgsl" with { type: "text" };
import matmulSubgroupMatrixEmulated from "../../wgsl/matmul-subgroup-matrix-emulated.wgsl" with { type: "text" };
import matmulSubgroupMatrixTemplated from "../../wgsl/matmul-subgroup-matrix-templated.wgsl" with { type: "text" };
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
import subgroupMatrixSpellingEmulated from "../../wgsl/subgroup-matrix-spelling-emulated.wgsl" with { type: "text" };
import subgroupMatrixSpellingTemplated from "../../wgsl/subgroup-matrix-spelling-templated.wgsl" with { type: "text" };
import subgroupMatrixSpelling from "../../wgsl/subgroup-matrix-spelling.wgsl" with { type: "text" };
import swiglu from "../../wgsl/swiglu.wgsl" with { type: "text" };
import workgroupSum from "../../wgsl/workgroup-sum.wgsl" with { type: "text" };

export const WGSL_FILES: Readonly<Record<string, string>> = {
  "advance-cursor.wgsl": advanceCursor,
  "attention-backward-dkdv.wgsl": attentionBackwardDkdv,
  "attention-backward-dq.wgsl": attentionBackwardDq,
  "attention-common.wgsl": attentionCommon,
  "attention-decode.wgsl": attentionDecode,
  "attention-matrices-backward-common.wgsl": attentionMatricesBackwardCommon,
  "attention-matrices-common.wgsl": attentionMatricesCommon,
  "attention-matrices-dkdv-body.wgsl": attentionMatricesDkdvBody,
  "attention-matrices-dkdv-emulated.wgsl": attentionMatricesDkdvEmulated,
  "attention-matrices-dkdv-templated.wgsl": attentionMatricesDkdvTemplated,
  "attention-matrices-dkdv.wgsl": attentionMatricesDkdv,
  "attention-matrices-dq-body.wgsl": attentionMatricesDqBody,
  "attention-matrices-dq-emulated.wgsl": attentionMatricesDqEmulated,
  "attention-matrices-dq-templated.wgsl": attentionMatricesDqTemplated,
  "attention-matrices-dq.wgsl": attentionMatricesDq,
  "attention-matrices-forward-body.wgsl": attentionMatricesForwardBody,
  "attention-matrices-forward-emulated.wgsl": attentionMatricesForwardEmulated,
  "attention-matrices-forward-templated.wgsl": attentionMatricesForwardTemplated,
  "attention-matrices-forward.wgsl": attentionMatricesForward,
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
  "linear-attention-common.wgsl": linearAttentionCommon,
  "linear-attention-matrices-body.wgsl": linearAttentionMatricesBody,
  "linear-attention-matrices-emulated.wgsl": linearAttentionMatricesEmulated,
  "linear-attention-matrices-templated.wgsl": linearAttentionMatricesTemplated,
  "linear-attention-matrices.wgsl": linearAttentionMatrices,
  "linear-attention.wgsl": linearAttention,
  "loss-scale.wgsl": lossScale,
  "matmul-common.wgsl": matmulCommon,
  "matmul-subgroup-matrix-body.wgsl": matmulSubgroupMatrixBody,
  "matmul-subgroup-matrix-emulated.wgsl": matmulSubgroupMatrixEmulated,
  "matmul-subgroup-matrix-templated.wgsl": matmulSubgroupMatrixTemplated,
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
  "subgroup-matrix-spelling-emulated.wgsl": subgroupMatrixSpellingEmulated,
  "subgroup-matrix-spelling-templated.wgsl": subgroupMatrixSpellingTemplated,
  "subgroup-matrix-spelling.wgsl": subgroupMatrixSpelling,
  "swiglu.wgsl": swiglu,
  "workgroup-sum.wgsl": workgroupSum,
};
