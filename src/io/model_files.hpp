// Lesson 6 introduces this header: a trained model saved as .npy files under
// the names PyTorch's state_dict() gives them, and read back.
#pragma once

#include <cstddef>
#include <string>

#include "train/attention_only_transformer.hpp"

/// @file
/// @brief The tiny transformer's parameters as .npy files (introduced in @ref lesson06).

namespace mha {

/// Writes the model's parameters into a folder (created if missing), float64:
///
///     token_embedding.weight.npy      (V, d_model)
///     position_embedding.weight.npy   (longest L, d_model)
///     layers.0/in_proj_weight.npy     (3·d_model, d_model)   layer 0, as save_parameters writes it
///     layers.0/out_proj.weight.npy    (d_model, d_model)
///     layers.1/…
///     readout.weight.npy              (V, d_model)
///     model.json                      {"layers": n, "heads": H, "causal": true|false}
///
/// The folder `layers.0` holds what PyTorch names `layers.0.in_proj_weight`, and so on.
///
/// A model trained with G < H key/value heads (lesson 7, decode/tied_key_value_heads.hpp)
/// is saved the same way, its tied rows of W_k and W_v repeated in in_proj_weight, and
/// model.json also says `"num_kv_heads": G`; load_transformer reads it back as lesson 6's model.
///
/// @param model the model.
/// @param directory the folder.
/// @param num_kv_heads G, written into model.json if it is neither 0 nor H.
/// @throws std::runtime_error naming the path if a file cannot be written.
/// @see @ref lesson06, @ref lesson07
void save_transformer(const AttentionOnlyTransformer& model, const std::string& directory,
                      std::size_t num_kv_heads = 0);

/// Reads a model written by save_transformer.
///
/// @param directory the folder.
/// @return the model.
/// @throws std::runtime_error naming the file if one is missing, unreadable or of the wrong shape.
/// @see @ref lesson06
AttentionOnlyTransformer load_transformer(const std::string& directory);

}  // namespace mha
