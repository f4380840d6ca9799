// Lesson 6 introduces this header: a line chart as an SVG picture, for the
// loss curves of training.
#pragma once

#include <string>
#include <vector>

/// @file
/// @brief Curves as an SVG line chart (introduced in @ref lesson06).

namespace mha {

/// One curve of a line chart: y values at x = 1, 2, 3, …
struct ChartCurve {
    /// The legend's text.
    std::string label;
    /// The values; NaN and infinities are refused.
    std::vector<double> values;
    /// An SVG colour, such as `#1f5fa8`.
    std::string colour = "#1f5fa8";
};

/// Draws curves against their index (the training step), on a linear or a
/// logarithmic y axis, with ticks, axis titles and a legend.
///
/// @param curves one or more curves; each needs at least one value (and values > 0 for a log axis).
/// @param title drawn above the chart; empty for none.
/// @param x_title the x axis's title, such as `step`.
/// @param y_title the y axis's title, such as `loss`.
/// @param log_y whether the y axis is logarithmic (a loss that falls from 3 to 0.001 reads better so).
/// @return a standalone SVG document (UTF-8) with `width` and `height` in pixels.
/// @throws std::invalid_argument if there is no curve, a curve is empty, a value is not finite, or not positive on a log axis.
/// @see @ref lesson06
std::string svg_line_chart(const std::vector<ChartCurve>& curves, const std::string& title, const std::string& x_title,
                           const std::string& y_title, bool log_y);

}  // namespace mha
