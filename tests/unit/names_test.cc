// Copyright 2026 The tenantry Authors.
//
// tenantry/names.h: one table per enum, read both ways. Every value has a
// distinct name that reads back as that value, and nothing else reads as a
// value (names are exact: no case folding, no prefixes).
#include "tenantry/names.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace tenantry {
namespace {

template <class E, class NameFn, class NamedFn>
void ExpectRoundTrip(std::initializer_list<E> values, NameFn name, NamedFn named,
                     std::initializer_list<const char*> expected) {
  std::set<std::string> seen;
  auto want = expected.begin();
  for (E value : values) {
    const std::string n = name(value);
    EXPECT_EQ(n, *want++);
    EXPECT_TRUE(seen.insert(n).second) << "two values named " << n;
    ASSERT_TRUE(named(n).has_value()) << n;
    EXPECT_EQ(*named(n), value) << n;
    std::string upper = n;
    upper[0] = static_cast<char>(upper[0] - 'a' + 'A');
    EXPECT_FALSE(named(upper).has_value()) << upper;
    EXPECT_FALSE(named(n.substr(0, n.size() - 1)).has_value()) << n;
    EXPECT_FALSE(named(n + " ").has_value()) << n;
  }
  EXPECT_FALSE(named("").has_value());
  EXPECT_FALSE(named("unknown").has_value());
  EXPECT_STREQ(name(static_cast<E>(200)), "unknown");
}

TEST(Names, T4_WorkspaceTypes) {
  ExpectRoundTrip({WorkspaceType::kSimple, WorkspaceType::kAgency}, WorkspaceTypeName,
                  WorkspaceTypeNamed, {"simple", "agency"});
}

TEST(Names, T5_WorkspaceStatuses) {
  ExpectRoundTrip({WorkspaceStatus::kActive, WorkspaceStatus::kInactive}, WorkspaceStatusName,
                  WorkspaceStatusNamed, {"active", "inactive"});
}

TEST(Names, A4_AccessPaths) {
  ExpectRoundTrip({AccessPath::kNone, AccessPath::kDirect, AccessPath::kTeam, AccessPath::kStaff,
                   AccessPath::kInherited},
                  AccessPathName, AccessPathNamed,
                  {"none", "direct", "team", "staff", "inherited"});
}

TEST(Names, C7_LedgerKinds) {
  ExpectRoundTrip(
      {LedgerKind::kGrant, LedgerKind::kTransfer, LedgerKind::kRevoke, LedgerKind::kCommit,
       LedgerKind::kRelease, LedgerKind::kExpire, LedgerKind::kReturnOnDelete},
      LedgerKindName, LedgerKindNamed,
      {"grant", "transfer", "revoke", "commit", "release", "expire", "return_on_delete"});
}

TEST(Names, P3_DurabilityAndDamagePolicies) {
  ExpectRoundTrip({Durability::kSync, Durability::kGroup, Durability::kNone}, DurabilityName,
                  DurabilityNamed, {"sync", "group", "none"});
  ExpectRoundTrip({OnJournalDamage::kRefuse, OnJournalDamage::kTruncate}, OnJournalDamageName,
                  OnJournalDamageNamed, {"refuse", "truncate"});
}

}  // namespace
}  // namespace tenantry
