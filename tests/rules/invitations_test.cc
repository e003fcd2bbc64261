// Copyright 2026 The tenantry Authors.
//
// docs/rules.md section 5, invitations (I1-I4), on a manual clock: tokens, expiry,
// resend and revoke, who may accept, and every rule checked again at accept
// time (M5, M10). Every refusal is checked for its exact code, a message
// naming the rule and for having changed nothing, invitations included
// (section 10).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tenantry/clock.h"
#include "tenantry/engine.h"
#include "test_util.h"

namespace tenantry {
namespace {

using test::AccountNamed;
using test::Can;
using test::Named;
using test::PermsOf;
using ::testing::HasSubstr;
using Code = absl::StatusCode;
using Perms = std::set<std::string>;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kDay = 24 * 3600;

const Perms kClient = {"workspace.view", "workspace.switch", "analytics.view",
                       "runs.view",      "runs.trigger",     "connections.rotate_own"};

Engine::Options ClockOptions(std::shared_ptr<ManualClock> clock, int64_t ttl_s) {
  Engine::Options options;
  options.clock = std::move(clock);
  options.invitation_ttl_s = ttl_s;
  return options;
}

// An enterprise account "Acme" with workspaces "Main" and "Second" (both
// owned by the account owner); in Main: admin (admin) and viewer (viewer);
// staff: the owner, acct_admin (admin) and staff (member, all); invitee and
// stranger hold nothing. The engine runs on a manual clock.
struct Invites {
  explicit Invites(int64_t ttl_s = limits::kInvitationTtlDefaultS,
                   int64_t start_ns = 1'700'000'000'000'000'000)
      : clock(std::make_shared<ManualClock>(start_ns)), engine(ClockOptions(clock, ttl_s)) {}

  // Use as ASSERT_NO_FATAL_FAILURE(x.Build()).
  void Build() {
    TNY_ASSERT_OK_AND_ASSIGN(owner, engine.create_user("owner@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(acct_admin, engine.create_user("acct-admin@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(staff, engine.create_user("staff@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(admin, engine.create_user("admin@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(viewer, engine.create_user("viewer@acme.test"));
    TNY_ASSERT_OK_AND_ASSIGN(invitee, engine.create_user("new.person@example.test"));
    TNY_ASSERT_OK_AND_ASSIGN(stranger, engine.create_user("stranger@example.test"));
    TNY_ASSERT_OK_AND_ASSIGN(
        account, engine.create_account(AccountNamed("Acme", owner, Plan::Named("enterprise"))));
    TNY_ASSERT_OK(engine.add_staff(owner, account, acct_admin, "admin"));
    TNY_ASSERT_OK(engine.add_staff(owner, account, staff, "member"));
    TNY_ASSERT_OK_AND_ASSIGN(main, engine.create_workspace(owner, account, Named("Main")));
    TNY_ASSERT_OK_AND_ASSIGN(second, engine.create_workspace(owner, account, Named("Second")));
    TNY_ASSERT_OK(engine.add_member(owner, main, admin, "admin"));
    TNY_ASSERT_OK(engine.add_member(owner, main, viewer, "viewer"));
  }

  std::shared_ptr<ManualClock> clock;
  Engine engine;
  UserId owner = 0, acct_admin = 0, staff = 0, admin = 0, viewer = 0, invitee = 0, stranger = 0;
  AccountId account = 0;
  WorkspaceId main = 0, second = 0;
};

std::string InfoText(const InvitationInfo& i) {
  return absl::StrCat("invitation ", i.id, " staff=", i.staff, " account=", i.account,
                      " ws=", i.workspace, " email=", i.email, " role=", i.role,
                      " expires=", i.expires_at_ns, " state=", i.state, " by=", i.invited_by,
                      " accepted_by=", i.accepted_by, "\n");
}

// The whole visible state, every invitation included.
std::string State(const Invites& x) {
  std::string out = test::Fingerprint(x.engine);
  for (InvitationId id = 1; id <= 64; ++id) {
    absl::StatusOr<InvitationInfo> info = x.engine.invitation(id);
    if (info.ok()) out += InfoText(*info);
  }
  return out;
}

#define INVITES_EXPECT_REFUSED_UNCHANGED(x, expr, want_code, want_rule) \
  do {                                                                  \
    const std::string invites_state_before = State(x);                  \
    TNY_EXPECT_REFUSED(expr, want_code, want_rule);                     \
    EXPECT_EQ(State(x), invites_state_before);                          \
  } while (false)

// The secret part of a token ("<id>.<secret>").
std::string SecretOf(const std::string& token) {
  const size_t dot = token.find('.');
  return dot == std::string::npos ? std::string() : token.substr(dot + 1);
}

bool IsBase64Url(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool IsMember(const Engine& engine, WorkspaceId ws, UserId user, const std::string& role) {
  absl::StatusOr<std::vector<Member>> members = engine.members(ws);
  if (!members.ok()) return false;
  return std::find(members->begin(), members->end(), Member{user, role}) != members->end();
}

// ---- I1: what an invitation is ----

TEST(Invitations, I1_TokenHasAtLeast128RandomBitsAndExpiryIsSevenDays) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  const int64_t now = x.clock->now_ns();
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.owner, x.main, "someone@example.test"));
  EXPECT_NE(inv.id, 0u);
  EXPECT_EQ(inv.expires_at_ns, now + 7 * kDay * kSecond);
  EXPECT_EQ(inv.token.substr(0, inv.token.find('.')), absl::StrCat(inv.id));
  const std::string secret = SecretOf(inv.token);
  EXPECT_TRUE(IsBase64Url(secret)) << inv.token;
  EXPECT_GE(secret.size() * 6, 128u) << inv.token;  // base64: 6 bits a character
  // Every token is different, and so is every secret.
  std::set<std::string> tokens = {inv.token};
  std::set<std::string> secrets = {secret};
  for (int i = 0; i < 32; ++i) {
    TNY_ASSERT_OK_AND_ASSIGN(Invitation other,
                             x.engine.invite(x.owner, x.main, absl::StrCat("u", i, "@x.test")));
    EXPECT_NE(other.id, inv.id);
    EXPECT_TRUE(tokens.insert(other.token).second) << other.token;
    EXPECT_TRUE(secrets.insert(SecretOf(other.token)).second) << other.token;
    EXPECT_GE(SecretOf(other.token).size() * 6, 128u);
  }
}

TEST(Invitations, I1_InvitationDescribesItselfWithoutTheToken) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "  New.Person@Example.TEST "));
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(inv.id));
  EXPECT_EQ(info.id, inv.id);
  EXPECT_FALSE(info.staff);
  EXPECT_EQ(info.account, x.account);
  EXPECT_EQ(info.workspace, x.main);
  EXPECT_EQ(info.email, "new.person@example.test");
  EXPECT_EQ(info.role, "client");  // the default role (I1)
  EXPECT_EQ(info.expires_at_ns, inv.expires_at_ns);
  EXPECT_EQ(info.state, "pending");
  EXPECT_EQ(info.invited_by, x.admin);
  EXPECT_EQ(info.accepted_by, 0u);
  EXPECT_EQ(InfoText(info).find(SecretOf(inv.token)), std::string::npos);
  TNY_EXPECT_REFUSED(x.engine.invitation(999), Code::kNotFound, "(I1)");
}

TEST(Invitations, I1_DefaultRoleIsClient) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK(x.engine.accept(inv.token, x.invitee));
  EXPECT_TRUE(IsMember(x.engine, x.main, x.invitee, "client"));
  EXPECT_EQ(PermsOf(x.engine, x.invitee, x.main), kClient);
  EXPECT_EQ(PermsOf(x.engine, x.invitee, x.second), Perms{});
  TNY_EXPECT_OK(x.engine.verify());
}

TEST(Invitations, I1_TokenIsNeverStoredOrRecorded) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  std::vector<std::string> secrets;
  TNY_ASSERT_OK_AND_ASSIGN(Invitation a, x.engine.invite(x.owner, x.main, "a@example.test"));
  secrets.push_back(SecretOf(a.token));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation resent, x.engine.resend(x.owner, a.id));
  secrets.push_back(SecretOf(resent.token));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation s,
                           x.engine.invite_staff(x.owner, x.account, "s@example.test", "admin"));
  secrets.push_back(SecretOf(s.token));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation n,
                           x.engine.invite(x.owner, x.main, "new.person@example.test"));
  secrets.push_back(SecretOf(n.token));
  TNY_ASSERT_OK(x.engine.accept(n.token, x.invitee));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, x.engine.changes_since(0));
  bool saw_invite = false;
  for (const AuditRecord& record : feed) {
    saw_invite = saw_invite || record.what.find("invite") != std::string::npos;
    for (const std::string& secret : secrets) {
      EXPECT_EQ(record.what.find(secret), std::string::npos) << record.what;
    }
  }
  EXPECT_TRUE(saw_invite);
  const std::string state = State(x);
  for (const std::string& secret : secrets) {
    EXPECT_EQ(state.find(secret), std::string::npos);
  }
}

// ---- I3: who may accept ----

TEST(Invitations, I3_OnlyTheInviteeAcceptsKeysComparedCaseInsensitively) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "New.Person@Example.TEST", "member"));
  for (UserId other : {x.stranger, x.viewer, x.admin, x.owner}) {
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, other), Code::kPermissionDenied,
                                     "(I3)");
  }
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, 99999), Code::kNotFound, "(I3)");
  TNY_ASSERT_OK(x.engine.accept(inv.token, x.invitee));
  EXPECT_TRUE(IsMember(x.engine, x.main, x.invitee, "member"));
  EXPECT_TRUE(Can(x.engine, x.invitee, x.main, "campaigns.run"));
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(inv.id));
  EXPECT_EQ(info.state, "accepted");
  EXPECT_EQ(info.accepted_by, x.invitee);
  // The other way round: a user key in capitals, the invitation in lower case.
  TNY_ASSERT_OK_AND_ASSIGN(UserId mixed, x.engine.create_user("Mixed.Case@Example.Test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv2,
                           x.engine.invite(x.admin, x.main, "mixed.case@example.test", "viewer"));
  TNY_ASSERT_OK(x.engine.accept(inv2.token, mixed));
  EXPECT_TRUE(IsMember(x.engine, x.main, mixed, "viewer"));
  TNY_EXPECT_OK(x.engine.verify());
}

TEST(Invitations, I3_AcceptingWhenAlreadyAMemberIsRefused) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test", "viewer"));
  TNY_ASSERT_OK(x.engine.add_member(x.admin, x.main, x.invitee, "member"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, x.invitee), Code::kAlreadyExists,
                                   "(M3)");
  // Inviting a member is refused up front.
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, "viewer@acme.test"),
                                   Code::kAlreadyExists, "(M3)");
}

// ---- I2: expiry, resend, revoke, reuse ----

TEST(Invitations, I2_ExpiredInvitationRefused) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(UserId late, x.engine.create_user("late@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation on_time,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation too_late,
                           x.engine.invite(x.admin, x.main, "late@example.test"));
  x.clock->advance_s(7 * kDay - 1);
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(too_late.id));
  EXPECT_EQ(info.state, "pending");
  TNY_EXPECT_OK(x.engine.accept(on_time.token, x.invitee));
  x.clock->advance_s(2);
  TNY_ASSERT_OK_AND_ASSIGN(info, x.engine.invitation(too_late.id));
  EXPECT_EQ(info.state, "expired");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(too_late.token, late),
                                   Code::kFailedPrecondition, "(I2)");
  TNY_EXPECT_REFUSED(x.engine.accept(too_late.token, late), Code::kFailedPrecondition, "expired");
  x.clock->advance_s(365 * kDay);
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(too_late.token, late),
                                   Code::kFailedPrecondition, "(I2)");
  EXPECT_EQ(PermsOf(x.engine, late, x.main), Perms{});
}

TEST(Invitations, I2_LifetimeIsConfigurable) {
  Invites x(/*ttl_s=*/3600);
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(UserId late, x.engine.create_user("late@example.test"));
  const int64_t now = x.clock->now_ns();
  TNY_ASSERT_OK_AND_ASSIGN(Invitation a,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation b, x.engine.invite(x.admin, x.main, "late@example.test"));
  EXPECT_EQ(a.expires_at_ns, now + 3600 * kSecond);
  x.clock->advance_s(3599);
  TNY_EXPECT_OK(x.engine.accept(a.token, x.invitee));
  x.clock->advance_s(2);
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(b.token, late), Code::kFailedPrecondition,
                                   "(I2)");
  // A resend lives as long, from now.
  TNY_ASSERT_OK_AND_ASSIGN(Invitation again, x.engine.resend(x.admin, b.id));
  EXPECT_EQ(again.expires_at_ns, x.clock->now_ns() + 3600 * kSecond);
  TNY_EXPECT_OK(x.engine.accept(again.token, late));
}

TEST(Invitations, I2_ResendIssuesAFreshTokenAndExpiryAndVoidsTheOldToken) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation first,
                           x.engine.invite(x.admin, x.main, "new.person@example.test", "viewer"));
  x.clock->advance_s(3 * kDay);
  TNY_ASSERT_OK_AND_ASSIGN(Invitation second, x.engine.resend(x.admin, first.id));
  EXPECT_EQ(second.id, first.id);
  EXPECT_NE(second.token, first.token);
  EXPECT_NE(SecretOf(second.token), SecretOf(first.token));
  EXPECT_EQ(second.expires_at_ns, x.clock->now_ns() + 7 * kDay * kSecond);
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(first.id));
  EXPECT_EQ(info.expires_at_ns, second.expires_at_ns);
  EXPECT_EQ(info.state, "pending");
  // The old token matches nothing any more, even for the right user.
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(first.token, x.invitee), Code::kNotFound,
                                   "(I1, I2)");
  // Past the first expiry, within the new one.
  x.clock->advance_s(5 * kDay);
  TNY_ASSERT_OK_AND_ASSIGN(Invitation third, x.engine.resend(x.owner, first.id));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(second.token, x.invitee), Code::kNotFound,
                                   "(I1, I2)");
  TNY_ASSERT_OK(x.engine.accept(third.token, x.invitee));
  EXPECT_TRUE(IsMember(x.engine, x.main, x.invitee, "viewer"));
  // Only a pending invitation is resent, and only by someone who may invite.
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.resend(x.admin, first.id), Code::kFailedPrecondition,
                                   "(I2)");
  TNY_ASSERT_OK_AND_ASSIGN(Invitation other, x.engine.invite(x.admin, x.main, "o@example.test"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.resend(x.viewer, other.id), Code::kPermissionDenied,
                                   "(M10)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.resend(x.admin, 999), Code::kNotFound, "(I1)");
}

TEST(Invitations, I2_ResendRevivesAnExpiredInvitation) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  x.clock->advance_s(10 * kDay);
  TNY_EXPECT_REFUSED(x.engine.accept(inv.token, x.invitee), Code::kFailedPrecondition, "(I2)");
  TNY_ASSERT_OK_AND_ASSIGN(Invitation fresh, x.engine.resend(x.admin, inv.id));
  EXPECT_EQ(fresh.expires_at_ns, x.clock->now_ns() + 7 * kDay * kSecond);
  TNY_EXPECT_OK(x.engine.accept(fresh.token, x.invitee));
}

TEST(Invitations, I2_RevokedInvitationRefused) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.revoke_invitation(x.viewer, inv.id),
                                   Code::kPermissionDenied, "(M10)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.revoke_invitation(x.admin, 999), Code::kNotFound,
                                   "(I1)");
  TNY_ASSERT_OK(x.engine.revoke_invitation(x.admin, inv.id));
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(inv.id));
  EXPECT_EQ(info.state, "revoked");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, x.invitee),
                                   Code::kFailedPrecondition, "(I2)");
  TNY_EXPECT_REFUSED(x.engine.accept(inv.token, x.invitee), Code::kFailedPrecondition, "revoked");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.revoke_invitation(x.admin, inv.id),
                                   Code::kFailedPrecondition, "(I2)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.resend(x.admin, inv.id), Code::kFailedPrecondition,
                                   "(I2)");
  EXPECT_EQ(PermsOf(x.engine, x.invitee, x.main), Perms{});
}

TEST(Invitations, I2_UsedTokenRefused) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK(x.engine.accept(inv.token, x.invitee));
  for (UserId user : {x.invitee, x.stranger}) {
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, user), Code::kFailedPrecondition,
                                     "(I2)");
    TNY_EXPECT_REFUSED(x.engine.accept(inv.token, user), Code::kFailedPrecondition, "already used");
  }
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.revoke_invitation(x.admin, inv.id),
                                   Code::kFailedPrecondition, "(I2)");
}

TEST(Invitations, I1_GarbageTokensAreNotFoundAndNeverCrash) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation a,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation b, x.engine.invite(x.admin, x.main, "b@example.test"));
  std::string upper = a.token;
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
  std::string flipped = a.token;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  std::string with_nul = a.token;
  with_nul.push_back('\0');
  const std::vector<std::string> garbage = {
      "",
      "abc",
      "1.",
      ".",
      "1",
      "..",
      "1.x",
      "0.abc",
      "-1.abc",
      "+1.abc",
      " 1.abc",
      "18446744073709551615.abc",
      "99999999999999999999999999.abc",
      absl::StrCat(b.id, ".", SecretOf(a.token)),  // another invitation's id, a's secret
      absl::StrCat(a.id, ".", SecretOf(b.token)),
      absl::StrCat(a.id, ".", SecretOf(a.token), ".", SecretOf(a.token)),
      a.token.substr(0, a.token.size() - 1),
      a.token + "x",
      " " + a.token,
      a.token + " ",
      upper,
      flipped,
      with_nul,
      SecretOf(a.token),
      std::string(1 << 20, 'A'),
      absl::StrCat("1.", std::string(1 << 20, 'A')),
      std::string(250, '1') + ".abc",
      std::string("\xff\xfe.\x80", 4),
  };
  for (const std::string& token : garbage) {
    SCOPED_TRACE(token.substr(0, 64));
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(token, x.invitee), Code::kNotFound,
                                     "(I1, I2)");
  }
  // The genuine token still works afterwards.
  TNY_EXPECT_OK(x.engine.accept(a.token, x.invitee));
}

// ---- I3: every rule again at accept time ----

TEST(Invitations, M5_ClientInvitationRefusedWhenTheInviteeBecameStaff) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK(x.engine.add_staff(x.owner, x.account, x.invitee, "member"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, x.invitee),
                                   Code::kFailedPrecondition, "(M5)");
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(inv.id));
  EXPECT_EQ(info.state, "pending");
  // A staff member is refused a client invitation up front.
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, "STAFF@acme.test"),
                                   Code::kFailedPrecondition, "(M5)");
  // A non-client role is fine for staff.
  TNY_ASSERT_OK_AND_ASSIGN(Invitation viewer_inv,
                           x.engine.invite(x.owner, x.second, "new.person@example.test", "viewer"));
  TNY_EXPECT_OK(x.engine.accept(viewer_inv.token, x.invitee));
  TNY_EXPECT_OK(x.engine.verify());
}

TEST(Invitations, M5_StaffInvitationRefusedWhenTheInviteeBecameAClient) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(
      Invitation inv,
      x.engine.invite_staff(x.owner, x.account, "new.person@example.test", "member"));
  TNY_ASSERT_OK(x.engine.add_member(x.admin, x.main, x.invitee, "client"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, x.invitee),
                                   Code::kFailedPrecondition, "(M5)");
  TNY_EXPECT_REFUSED(x.engine.staff(x.account, x.invitee), Code::kNotFound, "(M2)");
}

TEST(Invitations, I1_StaffInvitationMakesStaff) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(UserId hire, x.engine.create_user("hire@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation member_inv,
                           x.engine.invite_staff(x.acct_admin, x.account, "Hire@Example.test",
                                                 "member", StaffScope::Of({x.second})));
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(member_inv.id));
  EXPECT_TRUE(info.staff);
  EXPECT_EQ(info.account, x.account);
  EXPECT_EQ(info.workspace, 0u);
  EXPECT_EQ(info.role, "member");
  EXPECT_EQ(info.state, "pending");
  EXPECT_EQ(info.email, "hire@example.test");
  // Staff invitations are not a workspace's.
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<InvitationInfo> listed, x.engine.invitations(x.second));
  EXPECT_EQ(listed.size(), 0u);
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(member_inv.token, x.stranger),
                                   Code::kPermissionDenied, "(I3)");
  TNY_ASSERT_OK(x.engine.accept(member_inv.token, hire));
  TNY_ASSERT_OK_AND_ASSIGN(auto staff, x.engine.staff(x.account, hire));
  EXPECT_EQ(staff.first, "member");
  EXPECT_FALSE(staff.second.all);
  EXPECT_EQ(staff.second.workspaces, std::vector<WorkspaceId>{x.second});
  EXPECT_TRUE(Can(x.engine, hire, x.second, "members.invite"));  // staff_member_role admin
  EXPECT_FALSE(Can(x.engine, hire, x.main, "workspace.view"));
  TNY_ASSERT_OK_AND_ASSIGN(info, x.engine.invitation(member_inv.id));
  EXPECT_EQ(info.state, "accepted");
  EXPECT_EQ(info.accepted_by, hire);
  // An admin invitation gives scope all and account permissions.
  TNY_ASSERT_OK_AND_ASSIGN(
      Invitation admin_inv,
      x.engine.invite_staff(x.owner, x.account, "new.person@example.test", "admin"));
  TNY_ASSERT_OK(x.engine.accept(admin_inv.token, x.invitee));
  TNY_ASSERT_OK_AND_ASSIGN(staff, x.engine.staff(x.account, x.invitee));
  EXPECT_EQ(staff.first, "admin");
  EXPECT_TRUE(staff.second.all);
  EXPECT_TRUE(Can(x.engine, x.invitee, x.main, "account.manage_staff"));
  TNY_EXPECT_OK(x.engine.verify());
}

TEST(Invitations, I1_InvalidStaffInvitationsRefused) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  const std::string email = "hire@example.test";
  for (const char* role : {"owner", "viewer", "client", ""}) {
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite_staff(x.owner, x.account, email, role),
                                     Code::kInvalidArgument, "(M2, I1)");
  }
  INVITES_EXPECT_REFUSED_UNCHANGED(
      x, x.engine.invite_staff(x.owner, x.account, email, "admin", StaffScope::Of({x.main})),
      Code::kInvalidArgument, "(M2)");
  for (UserId actor : {x.admin, x.viewer, x.staff, x.stranger}) {
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite_staff(actor, x.account, email, "member"),
                                     Code::kPermissionDenied, "(M10)");
  }
  INVITES_EXPECT_REFUSED_UNCHANGED(
      x, x.engine.invite_staff(x.owner, x.account, "staff@acme.test", "member"),
      Code::kAlreadyExists, "(M2)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite_staff(x.owner, 999, email, "member"),
                                   Code::kNotFound, "(I1)");
  // A scope from another account.
  TNY_ASSERT_OK_AND_ASSIGN(AccountId other,
                           x.engine.create_account(AccountNamed("Other", x.stranger)));
  TNY_ASSERT_OK_AND_ASSIGN(WorkspaceId foreign,
                           x.engine.create_workspace(x.stranger, other, Named("Foreign")));
  INVITES_EXPECT_REFUSED_UNCHANGED(
      x, x.engine.invite_staff(x.owner, x.account, email, "member", StaffScope::Of({foreign})),
      Code::kInvalidArgument, "(M2, A2)");
}

TEST(Invitations, M10_InvitingNeedsMembersInviteAndNoEscalation) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  const std::string email = "new.person@example.test";
  for (UserId actor : {x.viewer, x.stranger, x.invitee}) {
    INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(actor, x.main, email),
                                     Code::kPermissionDenied, "(M10)");
  }
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, email, "owner"),
                                   Code::kFailedPrecondition, "(M4)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(kSystem, x.main, email, "owner"),
                                   Code::kFailedPrecondition, "(M4)");
  TNY_ASSERT_OK(x.engine.define_role(x.owner, x.account, "biller", {"billing.manage"}, "viewer"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, email, "biller"),
                                   Code::kPermissionDenied, "(M10)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, email, "ghost"),
                                   Code::kInvalidArgument, "(M3)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, 999, email), Code::kNotFound,
                                   "(I1)");
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.main, ""), Code::kInvalidArgument,
                                   "(M1)");
  // The admin has no role in Second.
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.invite(x.admin, x.second, email),
                                   Code::kPermissionDenied, "(M10)");
  TNY_EXPECT_OK(x.engine.invite(x.owner, x.main, email, "biller"));
}

TEST(Invitations, M10_InviterWhoLostThePermissionBeforeAcceptVoidsIt) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test", "member"));
  TNY_ASSERT_OK(x.engine.set_role(x.owner, x.main, x.admin, "viewer"));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(inv.token, x.invitee),
                                   Code::kPermissionDenied, "(M10, I3)");
  // Checked at accept time: with the permission back, the invitation works.
  TNY_ASSERT_OK(x.engine.set_role(x.owner, x.main, x.admin, "admin"));
  TNY_ASSERT_OK(x.engine.accept(inv.token, x.invitee));
  EXPECT_TRUE(IsMember(x.engine, x.main, x.invitee, "member"));
  // The same for a staff invitation whose inviter stopped being staff.
  TNY_ASSERT_OK_AND_ASSIGN(UserId hire, x.engine.create_user("hire@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(
      Invitation staff_inv,
      x.engine.invite_staff(x.acct_admin, x.account, "hire@example.test", "member"));
  TNY_ASSERT_OK(x.engine.remove_staff(x.owner, x.account, x.acct_admin));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(staff_inv.token, hire),
                                   Code::kPermissionDenied, "(M10, I3)");
  // An inviter who left the workspace entirely.
  TNY_ASSERT_OK_AND_ASSIGN(UserId late, x.engine.create_user("late@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation left_inv,
                           x.engine.invite(x.admin, x.main, "late@example.test", "viewer"));
  TNY_ASSERT_OK(x.engine.remove_member(x.admin, x.main, x.admin));
  INVITES_EXPECT_REFUSED_UNCHANGED(x, x.engine.accept(left_inv.token, late),
                                   Code::kPermissionDenied, "(M10, I3)");
}

// ---- I1, I2: listing ----

TEST(Invitations, I2_InvitationsListEveryState) {
  Invites x;
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation expired, x.engine.invite(x.admin, x.main, "e@example.test"));
  x.clock->advance_s(8 * kDay);
  TNY_ASSERT_OK_AND_ASSIGN(Invitation accepted,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation revoked, x.engine.invite(x.admin, x.main, "r@example.test"));
  TNY_ASSERT_OK_AND_ASSIGN(Invitation pending, x.engine.invite(x.admin, x.main, "p@example.test"));
  TNY_ASSERT_OK(x.engine.accept(accepted.token, x.invitee));
  TNY_ASSERT_OK(x.engine.revoke_invitation(x.admin, revoked.id));
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<InvitationInfo> listed, x.engine.invitations(x.main));
  ASSERT_EQ(listed.size(), 4u);
  EXPECT_EQ(listed[0].id, expired.id);
  EXPECT_EQ(listed[0].state, "expired");
  EXPECT_EQ(listed[1].id, accepted.id);
  EXPECT_EQ(listed[1].state, "accepted");
  EXPECT_EQ(listed[1].accepted_by, x.invitee);
  EXPECT_EQ(listed[2].id, revoked.id);
  EXPECT_EQ(listed[2].state, "revoked");
  EXPECT_EQ(listed[3].id, pending.id);
  EXPECT_EQ(listed[3].state, "pending");
  EXPECT_EQ(listed[3].email, "p@example.test");
  for (const InvitationInfo& info : listed) EXPECT_EQ(info.workspace, x.main);
  TNY_ASSERT_OK_AND_ASSIGN(listed, x.engine.invitations(x.second));
  EXPECT_EQ(listed.size(), 0u);
  TNY_EXPECT_REFUSED(x.engine.invitations(999), Code::kNotFound, "(I1)");
  // Time moves on: the pending one expires too, without any change.
  const uint64_t revision = x.engine.revision();
  x.clock->advance_s(8 * kDay);
  TNY_ASSERT_OK_AND_ASSIGN(InvitationInfo info, x.engine.invitation(pending.id));
  EXPECT_EQ(info.state, "expired");
  EXPECT_EQ(x.engine.revision(), revision);
}

// ---- I4: time comes from the application's clock ----

TEST(Invitations, I4_TimeComesFromTheReplaceableClock) {
  Invites x(limits::kInvitationTtlDefaultS, /*start_ns=*/42);
  ASSERT_NO_FATAL_FAILURE(x.Build());
  TNY_ASSERT_OK_AND_ASSIGN(Invitation inv,
                           x.engine.invite(x.admin, x.main, "new.person@example.test"));
  EXPECT_EQ(inv.expires_at_ns, 42 + 7 * kDay * kSecond);
  TNY_ASSERT_OK_AND_ASSIGN(std::vector<AuditRecord> feed, x.engine.changes_since(0));
  ASSERT_FALSE(feed.empty());
  EXPECT_EQ(feed.back().time_ns, 42);
  EXPECT_THAT(feed.back().what, HasSubstr("invite"));
  // By the wall clock this invitation is decades past its expiry; by the
  // engine's clock it is fresh.
  TNY_EXPECT_OK(x.engine.accept(inv.token, x.invitee));
}

}  // namespace
}  // namespace tenantry
