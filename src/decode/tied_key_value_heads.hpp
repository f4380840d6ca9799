// Lesson 7 introduces this header: training with grouped key/value heads by
// tying them. A grouped-query layer (G key/value heads shared by H query heads)
// is exactly a multi-head layer whose query heads of one group have the same
// rows of W_k and W_v. So lesson 6's model and trainer train one, unchanged,
// if the tied rows start equal and every step moves them alike.
#pragma once

#include <cstddef>

#include "decode/grouped_query_attention.hpp"  // check_head_counts, key_value_head_for
#include "train/attention_only_transformer.hpp"
#include "train/trainer.hpp"

/// @file
/// @brief Grouped key/value heads as tied rows of W_k and W_v, for training (introduced in @ref lesson07).

namespace mha {

/// Ties the key and value heads of every layer into G groups: the rows of W_k and
/// W_v (E, E) of each query head become a copy of those of the first head of its
/// group. Head h owns rows [h·d_k, (h+1)·d_k); W_q and W_o are left alone, so the
/// query heads of a group still ask different questions of the same keys.
///
/// @param model the model, changed in place; G = H changes nothing.
/// @param num_kv_heads G.
/// @throws std::invalid_argument if the model has no layer or G does not fit its H.
/// @see @ref lesson07
void tie_key_value_heads(AttentionOnlyTransformer& model, std::size_t num_kv_heads);

/// Makes the gradients of tied rows the gradient of the one parameter they are:
/// within each group, the rows of dL/dW_k (and of dL/dW_v) of its query heads are
/// summed, and every head of the group gets the sum. A parameter used in several
/// places gets the sum of the gradients of its uses (the chain rule); with equal
/// rows and equal gradients, Adam moves tied rows alike and they stay equal.
///
/// @param gradients the gradients of every parameter, as a model (TrainingStep::gradients()), changed in place.
/// @param num_kv_heads G.
/// @throws std::invalid_argument if the model has no layer or G does not fit its H.
/// @see @ref lesson07
void tie_key_value_gradients(AttentionOnlyTransformer& gradients, std::size_t num_kv_heads);

/// Whether every layer's W_k and W_v rows are exactly equal (bit for bit) within each of G groups.
///
/// @param model the model.
/// @param num_kv_heads G.
/// @return true if every query head's rows equal those of the first head of its group.
/// @throws std::invalid_argument if the model has no layer or G does not fit its H.
/// @see @ref lesson07
bool key_value_groups_are_tied(const AttentionOnlyTransformer& model, std::size_t num_kv_heads);

/// Sets the trainer's two constraints so that it trains a model with G key/value
/// heads per layer: tie_key_value_heads on the fresh model, tie_key_value_gradients
/// after every backward pass. With G = H both do nothing and training is lesson 6's, bit for bit.
///
/// @param options the training options; their heads are H.
/// @param num_kv_heads G.
/// @throws std::invalid_argument if G does not fit options.heads.
/// @see @ref lesson07
void train_with_key_value_groups(TrainingOptions& options, std::size_t num_kv_heads);

}  // namespace mha
