// User text in messages: a --set, an option's value, a path, echoed in an error or a log line. Such text
// may hold anything the user's shell let through — control characters, terminal escape sequences,
// Unicode's bidirectional overrides that make a line read other than it is — and may be megabytes long.
// Every message that echoes user input shows it through shown(), and main logs every error message
// through it once more (kShownMessage), which covers any reader that echoed a path as it was.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace ringmaster {

// Bytes of user text a message shows at most; paths get more: longer than any a user types, shorter
// than one too long for the system.
inline constexpr std::size_t kShownText = 80;
inline constexpr std::size_t kShownPath = 512;
// A whole message as it is logged (main's one line for an Error: escaped again, which changes nothing in
// text already shown, so that text from any reader that did not show it is safe too).
inline constexpr std::size_t kShownMessage = 4096;

// `text` as a message shows it: its first `max_bytes` bytes (never cut inside a UTF-8 sequence) and, when
// longer, "… (N bytes)"; every byte or character a terminal would act on instead of printing escaped —
// C0 controls and DEL as \xNN (newlines and tabs too: a message is one line), C1 controls and the
// bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069) and the
// line and paragraph separators U+2028, U+2029 as \u{XXXX}, and bytes that are not UTF-8 as \xNN.
std::string shown(std::string_view text, std::size_t max_bytes = kShownText);
// A path as a message shows it: shown(path, kShownPath).
std::string shown_path(const std::filesystem::path& path);

// The length of the well-formed UTF-8 sequence at s[i] (Unicode table 3-7: no overlong forms, no
// surrogates, at most U+10FFFF), or 0 when the bytes there are not one.
std::size_t utf8_sequence(std::string_view s, std::size_t i);

// Every byte of `s` is part of a well-formed UTF-8 sequence.
bool is_utf8(std::string_view s);

// Bytes made one at a time (ringmaster sample) as valid UTF-8: whole sequences pass as they are, and what
// is not UTF-8 becomes U+FFFD, one for each byte no sequence starts with or each start of a sequence cut
// short. push() returns what may be written now (a sequence's first bytes wait for the rest); finish()
// what is left (U+FFFD for a sequence the end cut short).
class Utf8Stream {
 public:
  std::string push(char byte);
  std::string finish();

 private:
  std::string pending_;  // the start of a sequence, at most 3 bytes
};

}  // namespace ringmaster
