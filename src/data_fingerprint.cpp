#include "ringmaster/data_fingerprint.hpp"

#include <fmt/format.h>

#include <map>

#include "ringmaster/checkpoint.hpp"

namespace ringmaster {
namespace {

// How many differences a message lists before it says how many more there are: one line stays readable
// when a whole directory changed.
constexpr std::size_t kListed = 3;

std::string describe(const FileFingerprint& f) { return fmt::format("{} bytes, CRC-32 {:08x}", f.bytes, f.crc32); }

}  // namespace

FileFingerprint fingerprint_of(std::string name, std::string_view content) {
  return {std::move(name), content.size(), checkpoint_crc32(content.data(), content.size())};
}

std::optional<std::string> fingerprint_difference(const DataFingerprint& recorded, const DataFingerprint& now) {
  if (recorded == now) return std::nullopt;
  std::map<std::string, const FileFingerprint*> before, after;
  for (const FileFingerprint& f : recorded.files) before.emplace(f.name, &f);
  for (const FileFingerprint& f : now.files) after.emplace(f.name, &f);
  std::vector<std::string> changes;
  for (const auto& [name, was] : before) {
    const auto it = after.find(name);
    if (it == after.end())
      changes.push_back(name + " disappeared (it had " + describe(*was) + ")");
    else if (!(*it->second == *was))
      changes.push_back(name + " changed (" + describe(*was) + " then, " + describe(*it->second) + " now)");
  }
  for (const auto& [name, is] : after)
    if (!before.count(name)) changes.push_back(name + " appeared (" + describe(*is) + ")");
  if (changes.empty()) return std::string("the same files are read in another order");
  std::string text;
  for (std::size_t i = 0; i < changes.size() && i < kListed; ++i) text += (i ? "; " : "") + changes[i];
  if (changes.size() > kListed) text += fmt::format("; and {} more", changes.size() - kListed);
  return text;
}

}  // namespace ringmaster
