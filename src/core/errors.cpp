#include <cablesim/errors.hpp>

#include <cstdio>

namespace cablesim {

std::string format_number(double value) {
    // %.17g round-trips; try shorter forms first so that 0.1 prints as 0.1, not 0.10000000000000001.
    char buffer[32];
    for (int precision = 6; precision <= 17; ++precision) {
        std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
        double parsed = 0.0;
        if (std::sscanf(buffer, "%lf", &parsed) == 1 && parsed == value) break;
    }
    return buffer;
}

} // namespace cablesim
