// Lesson 6 introduces this header: a trained model saved as .npy files under
// the names PyTorch's state_dict() gives them, and read back.
#pragma once

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
/// @param model the model.
/// @param directory the folder.
/// @throws std::runtime_error naming the path if a file cannot be written.
/// @see @ref lesson06
void save_transformer(const AttentionOnlyTransformer& model, const std::string& directory);

/// Reads a model written by save_transformer.
///
/// @param directory the folder.
/// @return the model.
/// @throws std::runtime_error naming the file if one is missing, unreadable or of the wrong shape.
/// @see @ref lesson06
AttentionOnlyTransformer load_transformer(const std::string& directory);

}  // namespace mha
