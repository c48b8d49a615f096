// The recognizer of the TOML subset a Ringmaster config uses (toml_subset.hpp). It only decides whether
// a text is in the subset; toml++ parses it. Line by line: a line is blank, a comment, a [section]
// header or key = value, and only an array may continue its line over the next ones. No recursion: the
// subset has nothing nested to recurse into. The grammar's names (dec-int, zero-prefixable-int, …) are
// those of TOML v1.0.0's ABNF.
#include "config/toml_subset.hpp"
#include "ringmaster/text.hpp"

#include <cstdio>

namespace ringmaster {
namespace {

constexpr std::string_view kSubset =
    " (a Ringmaster config uses only [section], key = value with strings, numbers, booleans and arrays of them)";

// The schema's deepest table is [section.subsection] ([objective.mlp], [lmo.head]) and its deepest key
// section.subsection.key; to_toml writes every table of the schema, so a deeper schema would fail the
// round-trip tests until these grow with it.
constexpr int kMaxHeaderParts = 2;
constexpr int kMaxKeyParts = 3;  // counting the parts of the key's header

bool is_decimal(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) { return is_decimal(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_octal(char c) { return c >= '0' && c <= '7'; }
bool is_binary(char c) { return c == '0' || c == '1'; }
bool is_bare_key_char(char c) { return is_decimal(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-'; }
// What an unquoted value is made of: TOML's numbers, booleans, and the dates and times the subset refuses.
bool is_word_char(char c) { return is_bare_key_char(c) || c == '+' || c == '.' || c == ':'; }

// DIGIT *( DIGIT / "_" DIGIT ) in one base, taken off the front of `s`; false if `s` starts with no digit.
bool digits(std::string_view& s, bool (*is_digit)(char)) {
  if (s.empty() || !is_digit(s[0])) return false;
  std::size_t i = 1;
  while (i < s.size() && (is_digit(s[i]) || (s[i] == '_' && i + 1 < s.size() && is_digit(s[i + 1]))))
    i += s[i] == '_' ? 2 : 1;
  s.remove_prefix(i);
  return true;
}

// integer = dec-int / hex-int / oct-int / bin-int; float = float-int-part ( exp / frac [ exp ] ) /
// special-float.
bool is_number(std::string_view s) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {  // unsigned only
    const auto base = s[1] == 'x' ? is_hex : s[1] == 'o' ? is_octal : is_binary;
    s.remove_prefix(2);
    return digits(s, base) && s.empty();
  }
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  if (s == "inf" || s == "nan") return true;
  if (s.empty() || !is_decimal(s[0])) return false;
  if (s[0] == '0')
    s.remove_prefix(1);  // no leading zeros
  else
    digits(s, is_decimal);
  if (!s.empty() && s[0] == '.') {
    s.remove_prefix(1);
    if (!digits(s, is_decimal)) return false;
  }
  if (!s.empty() && (s[0] == 'e' || s[0] == 'E')) {
    s.remove_prefix(1);
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
    if (!digits(s, is_decimal)) return false;
  }
  return s.empty();
}

// 1979-05-27, 07:32:00, 1979-05-27T07:32:00Z, …: how TOML's dates and times begin.
bool looks_like_date_or_time(std::string_view s) {
  const auto digits_then = [s](std::size_t n, char c) {
    if (s.size() <= n || s[n] != c) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (!is_decimal(s[i])) return false;
    return true;
  };
  return digits_then(4, '-') || digits_then(2, ':');
}

std::string control_character(unsigned char c) {
  char text[48];
  std::snprintf(text, sizeof text, "the control character 0x%02X", c);
  return text;
}

// Thrown inside the scanner at the first thing outside the subset; check_toml_subset returns it.
struct Refused {
  TomlRefusal refusal;
};

class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void document() {
    while (!at_end()) {
      blanks();
      if (at('[')) {
        header();
        end_of_line("after the table header");
      } else if (at_end_of_line()) {
        end_of_line("");  // blank, or a comment
      } else {
        key_value();
        end_of_line("after the value");
      }
    }
  }

 private:
  bool at_end() const { return pos_ == text_.size(); }
  bool at(char c) const { return !at_end() && text_[pos_] == c; }
  bool at_newline() const { return at('\n') || (at('\r') && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n'); }
  bool at_end_of_line() const { return at_end() || at('#') || at_newline(); }

  [[noreturn]] void refuse(const std::string& what, bool nesting = false) const { refuse_at(line_, what, nesting); }
  [[noreturn]] static void refuse_at(std::size_t line, const std::string& what, bool nesting = false) {
    throw Refused{TomlRefusal{line, what + std::string(kSubset), nesting}};
  }
  // The character at pos_ where `context` expected something else, described without echoing bytes
  // that would not print.
  [[noreturn]] void unexpected(std::string_view context) const {
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c >= 0x80) refuse("a non-ASCII character outside a string or comment");
    if (c < 0x20 || c == 0x7F) refuse(control_character(c));
    // Appended: GCC 12 warns falsely (-Wrestrict, PR 105329) on "'" + std::string(...).
    std::string what(1, '\'');
    what.append(1, static_cast<char>(c)).append("' ").append(context);
    refuse(what);
  }

  void blanks() {
    while (at(' ') || at('\t')) ++pos_;
  }
  void newline() {
    pos_ += at('\r') ? 2 : 1;
    ++line_;
  }
  // ws [ comment ] then a newline or the end of the text.
  void end_of_line(std::string_view context) {
    blanks();
    if (at('#')) comment();
    if (at_end()) return;
    if (!at_newline()) unexpected(context);
    newline();
  }
  void comment() {
    for (++pos_; !at_end() && !at_newline();) character();
  }
  // One character of a comment or string: a tab, printable ASCII or a well-formed UTF-8 sequence.
  void character() {
    const auto c = static_cast<unsigned char>(text_[pos_]);
    if (c == '\t' || (c >= 0x20 && c < 0x7F)) {
      ++pos_;
      return;
    }
    if (c < 0x80) refuse(control_character(c));
    const std::size_t length = utf8_sequence(text_, pos_);
    if (length == 0) refuse("text that is not valid UTF-8");
    pos_ += length;
  }

  // [section] or [section.subsection].
  void header() {
    ++pos_;
    if (at('[')) refuse("an array of tables [[...]]", true);
    blanks();
    header_parts_ = key_path(kMaxHeaderParts, "a table header deeper than [section.subsection]");
    blanks();
    if (at(']')) {
      ++pos_;
      return;
    }
    if (at_end_of_line()) refuse("a table header without its closing ']'");
    unexpected("in a table header");
  }

  // key *( "." key ), blanks allowed around the dots; refused past `max_parts` parts. Returns the parts.
  int key_path(int max_parts, std::string_view too_deep) {
    for (int parts = 1;; ++parts) {
      if (parts > max_parts) refuse(std::string(too_deep), true);
      bare_key();
      blanks();
      if (!at('.')) return parts;
      ++pos_;
      blanks();
    }
  }

  void bare_key() {
    if (at('"') || at('\'')) refuse("a quoted key");
    if (at_end_of_line()) refuse("a line that ends where a key should be");
    if (!is_bare_key_char(text_[pos_])) unexpected("where a key should be");
    while (!at_end() && is_bare_key_char(text_[pos_])) ++pos_;
  }

  void key_value() {
    key_path(kMaxKeyParts - header_parts_, "a dotted key deeper than section.subsection.key with its [section]");
    blanks();
    if (at_end_of_line()) refuse("a key without '= value'");
    if (!at('=')) unexpected("after a key, where '=' should be");
    ++pos_;
    blanks();
    if (at_end_of_line()) refuse("a missing value after '='");
    if (at('['))
      array();
    else
      scalar();
  }

  // An array of scalars: '[' then elements separated by commas, a trailing comma allowed, with blanks,
  // comments and newlines anywhere between them.
  void array() {
    const std::size_t opened = line_;
    ++pos_;
    for (bool after_element = false;;) {
      gaps();
      if (at_end()) refuse_at(opened, "an array that is not closed");
      if (at(']')) {
        ++pos_;
        return;
      }
      if (after_element) {
        if (!at(',')) unexpected("after an array element, where ',' or ']' should be");
        ++pos_;
        after_element = false;
        continue;
      }
      if (at('[')) refuse("an array inside an array", true);
      if (at(',')) unexpected("where an array element should be");
      scalar();
      after_element = true;
    }
  }
  void gaps() {
    for (;;) {
      blanks();
      if (at('#')) comment();
      if (!at_newline()) return;
      newline();
    }
  }

  // A string, number or boolean (pos_ is not at the end of a line).
  void scalar() {
    if (at('"') || at('\'')) return string();
    if (at('{')) refuse("an inline table", true);
    const std::size_t start = pos_;
    while (!at_end() && is_word_char(text_[pos_])) ++pos_;
    const std::string_view word = text_.substr(start, pos_ - start);
    if (word.empty()) unexpected("where a value should be");
    if (word == "true" || word == "false" || is_number(word)) return;
    if (looks_like_date_or_time(word)) refuse("a date or time");
    if (is_decimal(word[0]) || word[0] == '+' || word[0] == '-' || word[0] == '.') refuse("a malformed number");
    refuse("text without quotes where a value should be");
  }

  // A basic "…" or literal '…' string on one line. Escapes are toml++'s to check; here only the
  // escaped quote and backslash matter, so as not to end the string early.
  void string() {
    const char quote = text_[pos_];
    const std::string_view opens_multi_line = quote == '"' ? R"(""")" : "'''";
    if (text_.substr(pos_, 3) == opens_multi_line) refuse("a multi-line string");
    for (++pos_;;) {
      if (at_end() || at_newline()) refuse("a string that is not closed on its line");
      if (at(quote)) {
        ++pos_;
        return;
      }
      if (quote == '"' && at('\\') && pos_ + 1 < text_.size() && (text_[pos_ + 1] == '"' || text_[pos_ + 1] == '\\'))
        pos_ += 2;
      else
        character();
    }
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
  int header_parts_ = 0;  // of the last [header]; 0 before the first
};

}  // namespace

std::optional<TomlRefusal> check_toml_subset(std::string_view text) {
  try {
    Scanner(text).document();
  } catch (Refused& refused) {
    return std::move(refused.refusal);
  }
  return std::nullopt;
}

}  // namespace ringmaster
