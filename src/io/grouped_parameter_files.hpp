// Lesson 7 introduces this header: the parameters of grouped-query attention
// as .npy files, under the names PyTorch gives separate projections.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "decode/grouped_query_attention.hpp"

/// @file
/// @brief GroupedQueryAttention parameters as PyTorch-named .npy files (introduced in @ref lesson07).

namespace mha {

/// Writes the parameters, float64, into an existing folder, under the names
/// nn.MultiheadAttention gives separate projections:
///
///     q_proj_weight.npy    (E, E)
///     k_proj_weight.npy    (G·d_k, E)
///     v_proj_weight.npy    (G·d_k, E)
///     in_proj_bias.npy     (E + 2·G·d_k): b_q, b_k, b_v one after the other   (with biases)
///     out_proj.weight.npy  (E, E)
///     out_proj.bias.npy    (E)                                                 (with biases)
///
/// @param module the parameters.
/// @param directory an existing folder; files of the same names are overwritten.
/// @return the paths written.
/// @throws std::invalid_argument if the module fails check().
/// @throws std::runtime_error naming the file if one cannot be written.
/// @see @ref lesson07
std::vector<std::string> save_grouped_query_parameters(const GroupedQueryAttention& module,
                                                       const std::string& directory);

/// Reads the files save_grouped_query_parameters writes (float32 or float64).
///
/// @param directory the folder.
/// @param num_heads H, which the files do not record.
/// @param num_kv_heads G, which they do not record either (only G·d_k).
/// @return the module, checked.
/// @throws std::invalid_argument if G is 0, G does not divide H, or H does not divide E.
/// @throws std::runtime_error starting with the file's path if one is missing,
///         unreadable, or of a shape that does not fit E, H and G (the message gives both shapes).
/// @see @ref lesson07
GroupedQueryAttention load_grouped_query_parameters(const std::string& directory, std::size_t num_heads,
                                                    std::size_t num_kv_heads);

}  // namespace mha
