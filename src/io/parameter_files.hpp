// Lesson 4 introduces this header: saving and loading the parameters of
// multi-head attention under the names PyTorch gives them.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "io/npy_file.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief MultiHeadAttention parameters as PyTorch-named .npy files (introduced in @ref lesson04).

namespace mha {

/// The arrays save_parameters() writes, each with its file name, in the order written.
///
/// @param module the parameters.
/// @return (name, values) pairs: `in_proj_weight.npy` (3E, E), or `q_proj_weight.npy` (E, E),
///         `k_proj_weight.npy` (E, kdim) and `v_proj_weight.npy` (E, vdim); with biases
///         `in_proj_bias.npy` (3E) and `out_proj.bias.npy` (E); `out_proj.weight.npy` (E, E).
/// @throws std::invalid_argument if the module's parameters do not fit together.
/// @see @ref lesson04
std::vector<std::pair<std::string, xt::xarray<double>>> parameter_arrays(const MultiHeadAttention& module);

/// Saves the parameters as .npy files named like the entries of
/// `nn.MultiheadAttention.state_dict()`, in float64 unless asked otherwise.
///
/// When kdim = vdim = E the three input projections are stacked into
/// `in_proj_weight.npy` (3E, E), as PyTorch stores them; otherwise they are
/// `q_proj_weight.npy` (E, E), `k_proj_weight.npy` (E, kdim) and
/// `v_proj_weight.npy` (E, vdim). With biases, `in_proj_bias.npy` (3E) and
/// `out_proj.bias.npy` (E) are written too; `out_proj.weight.npy` (E, E) always.
/// Lesson 6's `mha backward` saves a module of gradients this way, so that each
/// gradient gets the name of its parameter.
///
/// @param module the parameters to save.
/// @param directory an existing folder; files of the same names are overwritten.
/// @param type the element type of the files: float64 (the default) or float32.
/// @return the paths of the files written (directory + "/" + name).
/// @throws std::invalid_argument if the module's parameters do not fit together,
///         or type is boolean.
/// @throws std::runtime_error naming the file if one cannot be written.
/// @see @ref lesson04
std::vector<std::string> save_parameters(const MultiHeadAttention& module, const std::string& directory,
                                         NpyType type = NpyType::float64);

/// Loads parameters saved by save_parameters or exported from PyTorch by
/// scripts/export_pytorch_mha.py; float32 and float64 files are both accepted.
///
/// @param directory the folder with the .npy files.
/// @param num_heads H, which the files do not record.
/// @return the module, checked with MultiHeadAttention::check().
/// @throws std::runtime_error naming the file when one is missing, unreadable
///         (permission denied), not a regular file, or of the wrong shape, or
///         when out_proj.weight.npy is (0, 0); std::invalid_argument when E is
///         not divisible by H.
/// @see @ref lesson04
MultiHeadAttention load_parameters(const std::string& directory, std::size_t num_heads);

}  // namespace mha
