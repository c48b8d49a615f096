// User text in messages (include/ringmaster/text.hpp): what a terminal would act on is escaped, the rest
// is shown as typed, and long text is cut at a character boundary with its length.
#include <gtest/gtest.h>

#include <string>

#include "ringmaster/text.hpp"

namespace ringmaster {
namespace {

TEST(Text, PlainTextAndUnicodeAreShownAsTyped) {
  EXPECT_EQ(shown("run.method=sync"), "run.method=sync");
  EXPECT_EQ(shown("größe → ∞ 日本"), "größe → ∞ 日本");
  EXPECT_EQ(shown(""), "");
}

// Every C0 control, DEL and every C1 control; the bidirectional formatting characters that reorder a
// line as it is read (the "Trojan Source" ones) and the line and paragraph separators.
TEST(Text, ControlAndBidiCharactersAreEscaped) {
  EXPECT_EQ(shown("a\x1b[31mb"), "a\\x1b[31mb");
  EXPECT_EQ(shown("line\nnext\ttab\r"), "line\\x0anext\\x09tab\\x0d");
  EXPECT_EQ(shown(std::string("nul\0!", 5)), "nul\\x00!");
  EXPECT_EQ(shown("del\x7f"), "del\\x7f");
  EXPECT_EQ(shown("c1\xc2\x85\xc2\x9b"), "c1\\u{0085}\\u{009b}");
  EXPECT_EQ(shown("x\u202ey\u2066z\u2069"), "x\\u{202e}y\\u{2066}z\\u{2069}");
  EXPECT_EQ(shown("\u061c\u200e\u200f\u202a\u202b\u202c\u202d"),
            "\\u{061c}\\u{200e}\\u{200f}\\u{202a}\\u{202b}\\u{202c}\\u{202d}");
  EXPECT_EQ(shown("a\u2028b\u2029"), "a\\u{2028}b\\u{2029}");
  for (int c = 0; c < 0x20; ++c) {
    const std::string one(1, static_cast<char>(c));
    EXPECT_EQ(shown(one).find(one), std::string::npos) << c;
  }
}

// Bytes that are not UTF-8 (a stray continuation byte, an overlong form, a surrogate, a truncated
// sequence) are escaped one by one; the well-formed text around them is kept.
TEST(Text, BytesThatAreNotUtf8AreEscaped) {
  EXPECT_EQ(shown("a\x80z"), "a\\x80z");
  EXPECT_EQ(shown("\xc0\xaf"), "\\xc0\\xaf");
  EXPECT_EQ(shown("\xed\xa0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(shown("ok\xe2\x82"), "ok\\xe2\\x82");
  EXPECT_FALSE(is_utf8("a\x80z"));
  EXPECT_FALSE(is_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_TRUE(is_utf8("größe → 日本 \U0001F600"));
}

// Long text: its first 80 bytes (paths 512), never half a character, and its length.
TEST(Text, LongTextIsCutAtACharacterBoundaryWithItsLength) {
  EXPECT_EQ(shown(std::string(80, 'a')), std::string(80, 'a'));
  EXPECT_EQ(shown(std::string(81, 'a')), std::string(80, 'a') + "… (81 bytes)");
  const std::string accents = std::string(79, 'a') + "ééé";  // é is 2 bytes: the first one ends at byte 81
  EXPECT_EQ(shown(accents), std::string(79, 'a') + "… (85 bytes)");
  EXPECT_EQ(shown_path(std::string(600, 'p')), std::string(512, 'p') + "… (600 bytes)");
  // An escape counts as the byte it stands for: a megabyte of escape sequences stays a short line.
  EXPECT_LT(shown(std::string(1 << 20, '\x1b')).size(), 4u * 80 + 40);
}

}  // namespace
}  // namespace ringmaster
