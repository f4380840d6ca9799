// Lesson 1 introduces this header: the small pieces of text every SVG picture of
// the course is made of (heatmap.hpp, block_diagram.hpp, line_chart.hpp may use it).
#pragma once

#include <cstddef>
#include <string>

/// @file
/// @brief Text for SVG pictures: XML escaping and short numbers (introduced in @ref lesson01).

namespace mha {

/// Text made safe for XML: `&`, `<`, `>`, `"` and `'` become entities.
///
/// @param text any UTF-8 text.
/// @return the escaped text.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson01
std::string xml_escape(const std::string& text);

/// A number for an SVG attribute or label: at most two decimals, no trailing
/// zeros (12, 12.5, 0.25).
///
/// @param value a finite number.
/// @return its text.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson01
std::string svg_number(double value);

/// The number of characters of UTF-8 text (its bytes that do not continue a
/// character), which sets how wide a label is drawn.
///
/// @param text UTF-8 text.
/// @return the count of characters.
/// @throws nothing.
/// @see @ref lesson01
std::size_t utf8_characters(const std::string& text);

}  // namespace mha
