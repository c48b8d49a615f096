// Tests of the recognizer of the TOML a config may use (src/config/toml_subset.hpp): every form of the
// subset is accepted and toml++ reads it as written; everything else is refused at its line with the
// subset named, however deep it nests; every text to_toml writes is accepted.
#include "config/toml_subset.hpp"
#include "ringmaster/text.hpp"

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ringmaster/config.hpp"

namespace ringmaster {
namespace {

const std::string kAdvice =
    " (a Ringmaster config uses only [section], key = value with strings, numbers, booleans and arrays of them)";

std::string repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

// Every form the subset allows, in one text.
const std::string kEverythingAllowed =
    "# a comment; then a line of blanks\n"
    " \t\n"
    "top = 1\n"
    "a.b = \"dotted\"               # section.key\n"
    "c.d.e = 2                      # section.subsection.key\n"
    "[ lmo ]\n"
    "head . multiplier = 5.0\n"
    "[objective.gpt]\n"
    "corpus = \"a \\\"quoted\\\" \\\\ path\\t\\u00e9 [x] {y} # not a comment\"\n"
    "literal = 'C:\\dir \"x\" # not a comment'\n"
    "empty = \"\"\n"
    "unicode = \"r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x98\x80\"  # caf\xc3\xa9\n"
    "[numbers]\n"
    "ints = [0, +1, -1, 1_000, 0xDEAD_beef, 0o17, 0b1010]\n"
    "floats = [1.0, -0.5, +3.25, 1e6, 1E-3, 2.5e+10, 6.626e-34, 1_0.0_1, 0e0]\n"
    "specials = [inf, +inf, -inf, nan, +nan, -nan]\n"
    "booleans = [true, false]\n"
    "[arrays]\n"
    "empty = []\n"
    "blank = [ ]\n"
    "trailing = [1, 2,]\n"
    "mixed = ['a', \"b\", 1, 2.0, true]\n"
    "lines = [  # a comment after the opening bracket\n"
    "  1.0,\n"
    "\n"
    "  2.0,  # and after an element\n"
    "  3.0\n"
    "]\n"
    "crlf = 1\r\n"
    "[last]\r\n"
    "key-with_dash = 'no newline at the end'";

TEST(TomlSubset, EveryFormOfTheSubsetIsAcceptedAndReadAsWritten) {
  const auto refused = check_toml_subset(kEverythingAllowed);
  ASSERT_FALSE(refused) << refused->line << ": " << refused->what;
  EXPECT_FALSE(check_toml_subset(""));
  toml::table table;
  ASSERT_NO_THROW(table = toml::parse(kEverythingAllowed));
  EXPECT_EQ(table["c"]["d"]["e"].value<std::int64_t>(), 2);
  EXPECT_EQ(table["lmo"]["head"]["multiplier"].value<double>(), 5.0);
  EXPECT_EQ(table["objective"]["gpt"]["corpus"].value<std::string>(), "a \"quoted\" \\ path\t\xc3\xa9 [x] {y} # not a comment");
  EXPECT_EQ(table["objective"]["gpt"]["literal"].value<std::string>(), "C:\\dir \"x\" # not a comment");
  EXPECT_EQ(table["numbers"]["ints"][4].value<std::int64_t>(), 0xDEADBEEF);
  EXPECT_EQ(table["numbers"]["floats"][7].value<double>(), 10.01);
  EXPECT_TRUE(std::isnan(*table["numbers"]["specials"][5].value<double>()));
  EXPECT_EQ(table["numbers"]["specials"][2].value<double>(), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(table["arrays"]["trailing"].as_array()->size(), 2u);
  EXPECT_EQ(table["arrays"]["lines"].as_array()->size(), 3u);
  EXPECT_EQ(table["arrays"]["lines"][2].value<double>(), 3.0);
  EXPECT_EQ(table["last"]["key-with_dash"].value<std::string>(), "no newline at the end");
}

struct Outside {
  const char* name;
  std::string text;
  std::size_t line;
  std::string what;  // the start of the refusal
  bool nesting = false;
};

std::vector<Outside> outside_the_subset() {
  const std::string p = "# line 1\n[run]\n";  // the construct on line 3
  return {
      {"inline table", p + "a = {b = 1}\n", 3, "an inline table", true},
      {"inline table in an array", p + "a = [1, {b = 1}]\n", 3, "an inline table", true},
      {"nested array", p + "a = [[1]]\n", 3, "an array inside an array", true},
      {"nested array on a later line", p + "a = [\n  1,\n  [2],\n]\n", 5, "an array inside an array", true},
      {"array of tables", p + "[[x]]\n", 3, "an array of tables", true},
      {"array of tables without a key (toml++ #301)", "# line 1\n\n[[=\n", 3, "an array of tables", true},
      {"header of three parts", "# line 1\n\n[a.b.c]\n", 3, "a table header deeper than [section.subsection]", true},
      {"dotted key of four parts", "# line 1\n\na.b.c.d = 1\n", 3, "a dotted key deeper than section.subsection.key", true},
      {"dotted key under [section]", p + "b.c.d = 1\n", 3, "a dotted key deeper", true},
      {"dotted key under [section.subsection]", "# line 1\n[a.b]\nc.d = 1\n", 3, "a dotted key deeper", true},
      {"quoted key", p + "\"a\" = 1\n", 3, "a quoted key"},
      {"quoted key part", p + "a.'b' = 1\n", 3, "a quoted key"},
      {"quoted header", "# line 1\n\n[\"run\"]\n", 3, "a quoted key"},
      {"multi-line basic string", p + "a = \"\"\"x\"\"\"\n", 3, "a multi-line string"},
      {"multi-line literal string", p + "a = '''x'''\n", 3, "a multi-line string"},
      {"date", p + "seed = 2024-01-01\n", 3, "a date or time"},
      {"time", p + "a = 07:32:00\n", 3, "a date or time"},
      {"date-time", p + "a = 1979-05-27T07:32:00Z\n", 3, "a date or time"},
      {"date cut short (a fuzzer's, 2026)", p + "seed = 2024-01-0= 0\n", 3, "a date or time"},
      {"non-ASCII after a value (toml++ #295)", p + "a = 1 \xef\xb1\x80\n", 3, "a non-ASCII character outside a string or comment"},
      {"non-ASCII as a key", p + "\xc3\x9f = 1\n", 3, "a non-ASCII character outside"},
      {"non-ASCII after a bad brace (CI's fuzzer)", p + "a =0{'\xc3\x9f\n", 3, "'{' after the value"},
      {"non-ASCII after a bad dot", p + "a = 0.'\xc3\x9f'\n", 3, "a malformed number"},
      {"non-ASCII in a bad array", p + "x = [0['\xc3\x9f']]\n", 3, "'[' after an array element"},
      {"non-ASCII in an unclosed string", p + "a = \"\xc3\x9f\n", 3, "a string that is not closed on its line"},
      {"control character in a string", p + "a = \"x\x01y\"\n", 3, "the control character 0x01"},
      {"DEL in a comment", p + "# \x7f\n", 3, "the control character 0x7F"},
      {"carriage return alone", p + "a = 1\rb = 2\n", 3, "the control character 0x0D"},
      {"NUL after a value", p + std::string("a = 1\0\n", 7), 3, "the control character 0x00"},
      {"invalid UTF-8 in a string", p + "a = \"\xff\"\n", 3, "text that is not valid UTF-8"},
      {"overlong UTF-8 in a comment", p + "# \xc0\xaf\n", 3, "text that is not valid UTF-8"},
      {"surrogate in a string", p + "a = '\xed\xa0\x80'\n", 3, "text that is not valid UTF-8"},
      {"leading zero", p + "a = 01\n", 3, "a malformed number"},
      {"double underscore", p + "a = 1__0\n", 3, "a malformed number"},
      {"signed hex", p + "a = +0x1\n", 3, "a malformed number"},
      {"empty exponent", p + "a = 1e\n", 3, "a malformed number"},
      {"fraction without an integer part", p + "a = .5\n", 3, "a malformed number"},
      {"point without a fraction", p + "a = 1.\n", 3, "a malformed number"},
      {"bare word", p + "method = sync\n", 3, "text without quotes where a value should be"},
      {"capitalized boolean", p + "a = True\n", 3, "text without quotes"},
      {"missing value", p + "seed =\n", 3, "a missing value after '='"},
      {"second '='", p + "seed = = 3\n", 3, "'=' where a value should be"},
      {"key alone", p + "seed\n", 3, "a key without '= value'"},
      {"key and value without '='", p + "seed 3\n", 3, "'3' after a key, where '=' should be"},
      {"'=' without a key", p + "= 3\n", 3, "'=' where a key should be"},
      {"unclosed string", p + "a = \"ringmaster\n", 3, "a string that is not closed on its line"},
      {"escaped quote at the end", p + "a = \"x\\\"\n", 3, "a string that is not closed on its line"},
      {"unclosed array", p + "a = [1.0,\n  2.0\n", 3, "an array that is not closed"},
      {"array running into the next key", p + "a = [1.0, 2.0\nb = 1\n", 4, "'b' after an array element"},
      {"two values", p + "a = 1 2\n", 3, "'2' after the value"},
      {"missing comma", p + "a = [1 2]\n", 3, "'2' after an array element"},
      {"leading comma", p + "a = [,]\n", 3, "',' where an array element should be"},
      {"double comma", p + "a = [1,,2]\n", 3, "',' where an array element should be"},
      {"header without ']'", "# line 1\n\n[run\n", 3, "a table header without its closing ']'"},
      {"header and key on one line", "# line 1\n\n[run] seed = 1\n", 3, "'s' after the table header"},
      {"empty header", "# line 1\n\n[]\n", 3, "']' where a key should be"},
      {"header ending in a dot", "# line 1\n\n[run.]\n", 3, "']' where a key should be"},
      {"line after a multi-line array, CRLF", "a = [\r\n1,\r\n2]\r\nb = c\r\n", 4, "text without quotes"},
  };
}

TEST(TomlSubset, EverythingElseIsRefusedAtItsLine) {
  for (const Outside& o : outside_the_subset()) {
    SCOPED_TRACE(o.name);
    const auto refused = check_toml_subset(o.text);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->line, o.line) << refused->what;
    EXPECT_EQ(refused->what.rfind(o.what, 0), 0u) << refused->what;
    EXPECT_TRUE(refused->what.ends_with(kAdvice)) << refused->what;
    EXPECT_EQ(refused->nesting, o.nesting);
  }
}

// toml++ recurses once per level of the tree it builds: at ~31,000 levels of a dotted name it overflowed
// an 8 MiB stack, at 256 nested arrays or inline tables it stops by itself. The subset nests no deeper
// than [section.subsection] key and an array of scalars, so a construct is refused at its second level
// beyond that, whatever its depth.
TEST(TomlSubset, DepthIsBoundedByTheSubsetsShape) {
  const int n = 150000;
  std::string dotted = "a";
  for (int i = 1; i < n; ++i) dotted += ".a";
  const std::vector<std::string> deep = {
      "[" + dotted + "]\n",
      dotted + " = 1\n",
      "[[" + dotted + "]]\n",
      "x = {" + dotted + " = 1}\n",
      "x = {" + repeat("\"a\".", n) + "b = 1}\n",
      "x = " + repeat("[", n) + repeat("]", n) + "\n",
      "x = " + repeat("{a = ", n) + "1" + repeat("}", n) + "\n",
  };
  for (const std::string& text : deep) {
    SCOPED_TRACE(text.substr(0, 20));
    const auto refused = check_toml_subset("# line 1\n\n" + text);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->line, 3u);
    EXPECT_TRUE(refused->nesting);
    EXPECT_LT(refused->what.size(), 200u);  // no input echoed
  }
}

// What the resolved config.toml holds (to_toml) must read back, so it must be in the subset: every
// string, whatever its characters, and every double, whatever its magnitude.
TEST(TomlSubset, EveryTextToTomlWritesIsAccepted) {
  std::string every_character;
  for (int c = 0; c < 0x80; ++c) every_character += static_cast<char>(c);
  every_character += "\xc2\x80 \xc3\xa9 \xe2\x80\xa8 \xef\xbf\xbf \xf4\x8f\xbf\xbf";  // U+0080 … U+10FFFF
  Config c;
  c.run.out = every_character;
  c.objective.mlp.data_dir = "'''\"\"\"\\";
  c.objective.gpt.corpus = "[a.b] = {c}";
  c.heterogeneity.list = {std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest(),
                          std::numeric_limits<double>::denorm_min(), std::numeric_limits<double>::min(), -0.0, 1e21,
                          1e-7, 123456789012345680.0};
  for (const Config& config : {Config{}, c}) {
    const std::string text = to_toml(config);
    const auto refused = check_toml_subset(text);
    EXPECT_FALSE(refused) << refused->line << ": " << refused->what << "\n" << text;
  }
}

TEST(TomlSubset, Utf8IsWellFormedOrRefused) {
  EXPECT_TRUE(is_utf8(""));
  EXPECT_TRUE(is_utf8("plain \t\n"));
  EXPECT_TRUE(is_utf8("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"));
  for (const char* bad : {"\x80", "\xc3", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf0\x80\x80\xaf",
                          "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xe2\x82"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(is_utf8(bad));
    EXPECT_FALSE(is_utf8(std::string("ok ") + bad + " ok"));
  }
}

}  // namespace
}  // namespace ringmaster
