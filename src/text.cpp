#include "ringmaster/text.hpp"

#include "ringmaster/choices.hpp"

#include <spdlog/fmt/fmt.h>

#include <algorithm>

namespace ringmaster {
namespace {

// The code point of the well-formed sequence s[i, i + length).
char32_t decode(std::string_view s, std::size_t i, std::size_t length) {
  static constexpr unsigned char kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = static_cast<unsigned char>(s[i]) & kLeadMask[length];
  for (std::size_t k = 1; k < length; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

// Characters that act on a terminal or on the order a line is read in, rather than print.
bool escaped(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x061C || cp == 0x200E || cp == 0x200F ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

namespace {

// At s[i]: the length of the sequence its first byte starts (0: no sequence starts with it) and how many
// of its bytes s holds well-formed (Unicode table 3-7: no overlong forms, no surrogates, at most U+10FFFF).
struct Utf8Prefix {
  std::size_t length = 0;
  std::size_t valid = 0;
};

Utf8Prefix utf8_prefix(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t length = 1;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c < 0x80) return {1, 1};
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) lo = 0xA0;  // overlong
    if (c == 0xED) hi = 0x9F;  // surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) lo = 0x90;  // overlong
    if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {0, 0};
  }
  std::size_t valid = 1;
  for (; valid < length && i + valid < s.size(); ++valid) {
    const auto b = static_cast<unsigned char>(s[i + valid]);
    if (b < (valid == 1 ? lo : 0x80) || b > (valid == 1 ? hi : 0xBF)) break;
  }
  return {length, valid};
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

std::size_t utf8_sequence(std::string_view s, std::size_t i) {
  const Utf8Prefix p = utf8_prefix(s, i);
  return p.valid == p.length ? p.length : 0;
}

std::string Utf8Stream::push(char byte) {
  std::string out;
  pending_ += byte;
  while (!pending_.empty()) {
    const Utf8Prefix p = utf8_prefix(pending_, 0);
    if (p.length > 0 && p.valid == pending_.size() && p.valid < p.length) break;  // incomplete: wait
    // A whole sequence goes out as it is; a byte no sequence starts with, or the longest start of one
    // that the next byte breaks, as one U+FFFD (Unicode's "maximal subpart" practice).
    out += p.length > 0 && p.valid == p.length ? pending_.substr(0, p.length) : std::string(kReplacement);
    pending_.erase(0, std::max<std::size_t>(p.valid, 1));
  }
  return out;
}

std::string Utf8Stream::finish() {
  const bool cut = !pending_.empty();
  pending_.clear();
  return cut ? std::string(kReplacement) : std::string();
}

std::string shown_path(const std::filesystem::path& path) { return shown(path.native(), kShownPath); }

bool is_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t length = utf8_sequence(s, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string shown(std::string_view text, std::size_t max_bytes) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t length = utf8_sequence(text, i);
    const std::size_t step = length == 0 ? 1 : length;
    if (i + step > max_bytes) break;
    if (length == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
    } else if (const char32_t cp = decode(text, i, length); escaped(cp)) {
      out += cp < 0x80 ? fmt::format("\\x{:02x}", static_cast<unsigned>(cp))
                       : fmt::format("\\u{{{:04x}}}", static_cast<unsigned>(cp));
    } else {
      out.append(text.substr(i, length));
    }
    i += step;
  }
  if (i < text.size()) out += "… (" + std::to_string(text.size()) + " bytes)";
  return out;
}

std::string unknown_value(std::string_view text, const std::vector<std::string_view>& accepted) {
  std::string out = "unknown value \"" + shown(text) + "\" (accepted: ";
  for (std::size_t i = 0; i < accepted.size(); ++i) (out += i == 0 ? "" : ", ") += accepted[i];
  return out + ")";
}

}  // namespace ringmaster
