// Lesson 4 introduces this header, with .npy files (io/npy_file.hpp): what the
// first bytes of a .npy file say, read by a strict parser of our own, since
// those bytes come from anyone.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

/// @file
/// @brief The header of a .npy file, parsed strictly and within bounds (introduced in @ref lesson04).
///
/// The format is small (NumPy documents it in `numpy.lib.format`): the magic
/// string (the byte 0x93, then `NUMPY`), a version byte pair (1.0, 2.0 or 3.0), the length of the
/// header (2 little-endian bytes in version 1.0, 4 in 2.0 and 3.0), the header
/// itself, a Python dict literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }` padded with
/// spaces and ended by a newline, then the elements, nothing else. The header
/// is read with a parser of our own: no regular expressions, no recursion,
/// every size checked for overflow before anything is allocated. The elements
/// are io/npy_file.hpp's business.

namespace mha {

/// The longest header read_npy() accepts, in bytes. NumPy writes headers of a
/// few dozen bytes (its own loader refuses more than 10000 by default); the
/// limit keeps a hostile header length from allocating gigabytes.
inline constexpr std::size_t npy_max_header_bytes = std::size_t{1} << 20;

/// The most dimensions a .npy shape may have: NumPy 2's limit.
inline constexpr std::size_t npy_max_dimensions = 64;

/// How many first bytes of a .npy file say how long its header is: the magic
/// string (6), the version (2) and, in versions 2.0 and 3.0, a 4-byte length.
inline constexpr std::size_t npy_preamble_bytes = 12;

/// What the beginning of a .npy file says, as parse_npy_header() reads it.
struct NpyHeader {
    int major_version = 1;             ///< 1, 2 or 3 (version 3.0 allows UTF-8 in the header).
    std::string descr;                 ///< the element type exactly as written, such as `<f4` (never empty).
    bool fortran_order = false;        ///< true: the elements are stored column-major.
    std::vector<std::size_t> shape;    ///< the sizes; empty for a 0-d array, which holds one element.
    std::size_t data_offset = 0;       ///< where the elements begin: magic, version, length and header.
};

/// Where the data of a .npy file begins, from its first bytes alone, so that a
/// reader knows how much to read before parsing: the magic string and the
/// version are checked, the header length is read and bounded by
/// npy_max_header_bytes, the header itself is not looked at.
///
/// @param bytes the file's first bytes: npy_preamble_bytes of them, or all of a shorter file.
/// @param size how many bytes there are.
/// @return the length of magic, version, length and header together (NpyHeader::data_offset).
/// @throws std::runtime_error, one line without the file's name, if the bytes
///         are not the start of a .npy file, are cut short, or give a header
///         longer than npy_max_header_bytes.
/// @see @ref lesson04
std::size_t npy_header_end(const char* bytes, std::size_t size);

/// Parses the beginning of a .npy file: the magic string, the version, the
/// header length and the header's dict. Strict and bounded: the dict must have
/// exactly the keys `descr` (a string), `fortran_order` (True or False) and
/// `shape` (a tuple of whole numbers, with its comma when it has one element),
/// each once, in any order; the header must end with a newline, hold at most
/// npy_max_header_bytes and a shape of at most npy_max_dimensions sizes. It
/// does not check the element type or the data; read_npy() does.
///
/// @param bytes the file's first bytes: all of them, or at least the header.
/// @param size how many bytes there are.
/// @return the header, with NpyHeader::data_offset where the data starts.
/// @throws std::runtime_error saying, in one line without the file's name,
///         what is wrong, such as "the header is cut short".
/// @see @ref lesson04
NpyHeader parse_npy_header(const char* bytes, std::size_t size);

/// An element type string of a header (`descr`) in words, for a message
/// refusing it: `'<i8' (int64)` for the types NumPy commonly writes, and the
/// string alone, quoted, for any other, cut at 40 characters, with each
/// unprintable byte as a hexadecimal escape (a backslash, x, two digits).
///
/// @param descr NpyHeader::descr.
/// @return the words.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string describe_npy_descr(const std::string& descr);

}  // namespace mha
