// Lesson 6: a line chart as an SVG picture.
#include "io/line_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace mha {

namespace {

constexpr double width = 640, height = 360;
constexpr double left = 64, right = 16, top = 40, bottom = 48;  // the plot area's margins, in px

std::string number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", x);
    return text;
}

std::string tick_label(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

std::string escape(const std::string& text) {
    std::string escaped;
    for (const char c : text) {
        escaped += c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : std::string(1, c);
    }
    return escaped;
}

}  // namespace

std::string svg_line_chart(const std::vector<ChartCurve>& curves, const std::string& title, const std::string& x_title,
                           const std::string& y_title, bool log_y) {
    if (curves.empty()) {
        throw std::invalid_argument("svg_line_chart: no curve to draw");
    }
    // The ranges: x from 1 to the longest curve, y over every value (as log10 on a log axis).
    std::size_t longest = 0;
    double low = INFINITY, high = -INFINITY;
    for (const ChartCurve& curve : curves) {
        if (curve.values.empty()) {
            throw std::invalid_argument("svg_line_chart: the curve \"" + curve.label + "\" has no values");
        }
        longest = std::max(longest, curve.values.size());
        for (const double value : curve.values) {
            if (!std::isfinite(value) || (log_y && value <= 0)) {
                throw std::invalid_argument("svg_line_chart: the curve \"" + curve.label + "\" has the value " +
                                            tick_label(value) + (log_y ? ", not a positive number for a log axis"
                                                                       : ", not a finite number"));
            }
            const double y = log_y ? std::log10(value) : value;
            low = std::min(low, y);
            high = std::max(high, y);
        }
    }
    if (log_y) {  // whole decades
        low = std::floor(low);
        high = std::max(std::ceil(high), low + 1);
    } else if (high - low < 1e-12) {
        low -= 0.5, high += 0.5;
    }
    const double plot_width = width - left - right, plot_height = height - top - bottom;
    const auto x_of = [&](double step) {
        return left + (longest <= 1 ? 0.0 : (step - 1) / static_cast<double>(longest - 1) * plot_width);
    };
    const auto y_of = [&](double y) { return top + (high - y) / (high - low) * plot_height; };

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width) << "\" height=\"" << number(height)
        << "\" viewBox=\"0 0 " << number(width) << " " << number(height)
        << "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
    if (!title.empty()) {
        svg << "<text x=\"" << number(left) << "\" y=\"24\" font-size=\"16\" font-weight=\"bold\" fill=\"#222\">"
            << escape(title) << "</text>\n";
    }
    // The y ticks: every decade on a log axis, five steps on a linear one.
    const int y_ticks = log_y ? static_cast<int>(high - low) : 5;
    for (int t = 0; t <= y_ticks; ++t) {
        const double y = low + (high - low) * t / y_ticks;
        svg << "<line x1=\"" << number(left) << "\" x2=\"" << number(width - right) << "\" y1=\"" << number(y_of(y))
            << "\" y2=\"" << number(y_of(y)) << "\" stroke=\"#e4e4e4\"/>\n";
        svg << "<text x=\"" << number(left - 6) << "\" y=\"" << number(y_of(y) + 4)
            << "\" font-size=\"11\" text-anchor=\"end\" fill=\"#444\">" << tick_label(log_y ? std::pow(10.0, y) : y)
            << "</text>\n";
    }
    // The x ticks: five steps from 1 to the last.
    for (int t = 0; t <= 4; ++t) {
        const double step = 1 + static_cast<double>(longest - 1) * t / 4;
        svg << "<text x=\"" << number(x_of(step)) << "\" y=\"" << number(height - bottom + 16)
            << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"#444\">" << tick_label(std::round(step))
            << "</text>\n";
    }
    svg << "<text x=\"" << number(left + plot_width / 2) << "\" y=\"" << number(height - 10)
        << "\" font-size=\"12\" text-anchor=\"middle\" fill=\"#222\">" << escape(x_title) << "</text>\n";
    svg << "<text transform=\"translate(16 " << number(top + plot_height / 2)
        << ") rotate(-90)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#222\">" << escape(y_title)
        << (log_y ? " (log scale)" : "") << "</text>\n";
    svg << "<rect x=\"" << number(left) << "\" y=\"" << number(top) << "\" width=\"" << number(plot_width)
        << "\" height=\"" << number(plot_height) << "\" fill=\"none\" stroke=\"#888\"/>\n";
    // The curves, and the legend in the top right corner.
    for (std::size_t c = 0; c < curves.size(); ++c) {
        const ChartCurve& curve = curves[c];
        svg << "<polyline fill=\"none\" stroke=\"" << escape(curve.colour) << "\" stroke-width=\"1.5\" points=\"";
        for (std::size_t i = 0; i < curve.values.size(); ++i) {
            const double y = log_y ? std::log10(curve.values[i]) : curve.values[i];
            svg << (i ? " " : "") << number(x_of(static_cast<double>(i + 1))) << "," << number(y_of(y));
        }
        svg << "\"/>\n";
        const double legend_y = top + 16 + 18 * static_cast<double>(c);
        svg << "<line x1=\"" << number(width - right - 150) << "\" x2=\"" << number(width - right - 130)
            << "\" y1=\"" << number(legend_y - 4) << "\" y2=\"" << number(legend_y - 4) << "\" stroke=\""
            << escape(curve.colour) << "\" stroke-width=\"2\"/>\n";
        svg << "<text x=\"" << number(width - right - 124) << "\" y=\"" << number(legend_y)
            << "\" font-size=\"12\" fill=\"#222\">" << escape(curve.label) << "</text>\n";
    }
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace mha
