// Copyright 2026 The tenantry Authors.
//
// tenantry._core.Engine: the engine's methods, converting types and nothing
// else. Results that Python presents as value types (Workspace, Decision,
// LedgerEntry ...) leave here as tuples; the package `tenantry` builds them.
//
// The GIL: arguments are converted while holding it; then it is released
// around every call that may wait for the engine's writer lock (changes,
// verify, the ledger and the feed), that runs long (batches, check_many),
// or that may wait for a replica's database or log (every change and
// consume on a replica, wait_for and a read's at_least=, prepare, follow,
// the snapshots stored in the log).
// Releasing it there is also what keeps a Python clock safe: the engine
// calls the clock while holding its writer lock, and the clock takes the
// GIL, so no thread may hold the GIL while waiting for that lock.
#include "engine_binding.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "arguments.h"
#include "clock_binding.h"
#include "convert.h"
#include "pybind11/numpy.h"
#include "pybind11/stl.h"
#include "tenantry/names.h"
#include "tenantry/replica.h"
#include "tenantry/snapshot.h"
#include "tenantry/status.h"

namespace tenantry::python {
namespace {

py::object OptionalId(uint64_t id) {
  if (id == 0) return py::none();
  return py::int_(id);
}

py::object ScopeValue(const StaffScope& scope) {
  if (scope.all) return py::str("all");
  return py::cast(scope.workspaces);
}

py::tuple WorkspaceTuple(const WorkspaceInfo& w) {
  return py::make_tuple(w.id, w.account, w.name, w.slug, WorkspaceTypeName(w.type),
                        WorkspaceStatusName(w.status), OptionalId(w.parent), w.owner, w.depth);
}

py::tuple InvitationTuple(const Invitation& i) {
  return py::make_tuple(i.id, i.token, i.expires_at_ns);
}

py::tuple InvitationInfoTuple(const InvitationInfo& i) {
  return py::make_tuple(i.id, i.staff, i.account, OptionalId(i.workspace), i.email, i.role,
                        i.expires_at_ns, i.state, i.invited_by, OptionalId(i.accepted_by));
}

py::tuple LedgerTuple(const LedgerEntry& e) {
  return py::make_tuple(e.sequence, e.revision, e.time_ns, e.actor, e.account,
                        OptionalId(e.workspace), e.meter, std::string(LedgerKindName(e.kind)),
                        py::make_tuple(e.amounts[0], e.amounts[1]),
                        py::make_tuple(e.returned[0], e.returned[1]), OptionalId(e.reservation));
}

py::tuple ChangeTuple(const AuditRecord& r) {
  return py::make_tuple(r.revision, r.time_ns, r.actor, OptionalId(r.account),
                        OptionalId(r.workspace), r.what);
}

py::dict SettingsDict(const Settings& s) {
  py::dict d;
  d["beta_opt_in"] = s.beta_opt_in;
  d["approval_timeout_s"] = s.approval_timeout_s;
  d["inactivity_timeout_s"] = s.inactivity_timeout_s;
  return d;
}

// os.fspath(path) as a str (P1, P2): a str or an os.PathLike of one.
// TypeError naming `what` ("path", "journal") for anything else.
std::string PathArg(py::handle path, const char* what) {
  py::object text = py::reinterpret_steal<py::object>(PyOS_FSPath(path.ptr()));
  // Not a path (TypeError), or a bytes path: say which argument. What a
  // __fspath__ raised itself propagates.
  if (!text && !PyErr_ExceptionMatches(PyExc_TypeError)) throw py::error_already_set();
  if (!text || !PyUnicode_Check(text.ptr())) {
    const char* type = text ? Py_TYPE(text.ptr())->tp_name : Py_TYPE(path.ptr())->tp_name;
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "%s must be a str path or an os.PathLike of one, not %.100s",
                 what, type);
    throw py::error_already_set();
  }
  py::object& owned = text;
  // UTF-8, strictly: a lone surrogate raises UnicodeEncodeError.
  return owned.attr("encode")("utf-8").cast<std::string>();
}

// A count option (feed_retention ...): an int; a negative one is refused
// here, before it could wrap to a huge size_t (ValidateOptions checks the rest).
size_t CountOption(const char* name, int64_t value) {
  if (value < 0) {
    ThrowIfError(absl::InvalidArgumentError(
        absl::StrCat("Engine option ", name, " must be at least 1; got ", value)));
  }
  return static_cast<size_t>(value);
}

// An optional str option (log, group, replica_id): None or a str, UTF-8.
// TypeError naming it for anything else.
std::optional<std::string> OptionalText(py::handle value, const char* what) {
  if (value.is_none()) return std::nullopt;
  absl::string_view text;
  if (!ParseString(value.ptr(), what, &text)) throw py::error_already_set();
  return std::string(text);
}

// R1-R6: the replica's options (Engine(log=..., group=...)). What
// Engine::ValidateOptions checks (ranges) it checks; here only what the
// binding adds: a group or replica id without a log is a mistake.
struct ReplicaArgs {
  py::object log, group, replica_id;
  int64_t log_lock_timeout_ms, log_poll_ms;
  py::object lease_credits;
  int64_t lease_max, lease_share, lease_floor, settle_interval_ms, lease_ttl_ms;
};

void SetReplicaOptions(const ReplicaArgs& in, Engine::Options* options) {
  const std::optional<std::string> log = OptionalText(in.log, "log");
  const std::optional<std::string> group = OptionalText(in.group, "group");
  const std::optional<std::string> replica_id = OptionalText(in.replica_id, "replica_id");
  if (!PyBool_Check(in.lease_credits.ptr())) {
    PyErr_Format(PyExc_TypeError, "lease_credits must be a bool, not %.100s",
                 Py_TYPE(in.lease_credits.ptr())->tp_name);
    throw py::error_already_set();
  }
  if (log) {
    if (log->empty()) {
      ThrowIfError(Refusal(absl::StatusCode::kInvalidArgument, {"R1"},
                           "log is '': give a libpq connection string or URI, or None for an "
                           "engine that is no replica"));
    }
    options->log = *log;
  } else if (group || replica_id) {
    ThrowIfError(Refusal(absl::StatusCode::kInvalidArgument, {"R1"},
                         absl::StrCat(group ? "group" : "replica_id",
                                      " is given but log is None: a replica needs both log and "
                                      "group")));
  }
  options->group = group.value_or("");
  options->replica_id = replica_id.value_or("");
  options->log_lock_timeout_ms = in.log_lock_timeout_ms;
  options->log_poll_ms = in.log_poll_ms;
  options->lease_credits = in.lease_credits.ptr() == Py_True;
  options->lease_max = in.lease_max;
  options->lease_share = in.lease_share;
  options->lease_floor = in.lease_floor;
  options->settle_interval_ms = in.settle_interval_ms;
  options->lease_ttl_ms = in.lease_ttl_ms;
}

std::unique_ptr<EngineHandle> MakeEngine(
    py::object clock, AmountOf<"feed_retention"> feed_retention,
    AmountOf<"invitation_ttl_s"> invitation_ttl_s,
    AmountOf<"idempotency_window_s"> idempotency_window_s,
    AmountOf<"idempotency_slots"> idempotency_slots,
    AmountOf<"reservation_slots"> reservation_slots, AmountOf<"ledger_retention"> ledger_retention,
    py::object journal, const std::string& durability, AmountOf<"group_commit_ms"> group_commit_ms,
    const std::string& on_damage, py::object log, py::object group, py::object replica_id,
    AmountOf<"log_lock_timeout_ms"> log_lock_timeout_ms, AmountOf<"log_poll_ms"> log_poll_ms,
    py::object lease_credits, AmountOf<"lease_max"> lease_max, AmountOf<"lease_share"> lease_share,
    AmountOf<"lease_floor"> lease_floor, AmountOf<"settle_interval_ms"> settle_interval_ms,
    AmountOf<"lease_ttl_ms"> lease_ttl_ms, AmountOf<"wait_timeout_ms"> wait_timeout_ms,
    py::object snapshot) {
  Engine::Options options;
  options.feed_retention = CountOption("feed_retention", feed_retention.value);
  options.invitation_ttl_s = invitation_ttl_s.value;
  options.idempotency_window_s = idempotency_window_s.value;
  options.idempotency_slots = CountOption("idempotency_slots", idempotency_slots.value);
  options.reservation_slots = CountOption("reservation_slots", reservation_slots.value);
  options.ledger_retention = CountOption("ledger_retention", ledger_retention.value);
  // P3: the journal directory, and how far each change is flushed.
  if (!journal.is_none()) options.journal = PathArg(journal, "journal");
  if (std::optional<Durability> mode = DurabilityNamed(durability)) {
    options.durability = *mode;
  } else {
    ThrowIfError(Refusal(
        absl::StatusCode::kInvalidArgument, {"P3"},
        absl::StrCat("durability must be 'sync', 'group' or 'none'; got '", durability, "'")));
  }
  options.group_commit_ms = group_commit_ms.value;
  if (std::optional<OnJournalDamage> policy = OnJournalDamageNamed(on_damage)) {
    options.on_journal_damage = *policy;
  } else {
    ThrowIfError(
        Refusal(absl::StatusCode::kInvalidArgument, {"P3"},
                absl::StrCat("on_damage must be 'refuse' or 'truncate'; got '", on_damage, "'")));
  }
  SetReplicaOptions(
      ReplicaArgs{log, group, replica_id, log_lock_timeout_ms.value, log_poll_ms.value,
                  lease_credits, lease_max.value, lease_share.value, lease_floor.value,
                  settle_interval_ms.value, lease_ttl_ms.value},
      &options);
  ThrowIfError(Engine::ValidateOptions(options));
  // R4: how long a read's at_least= waits (the binding's own option).
  if (wait_timeout_ms.value < 0 || wait_timeout_ms.value > limits::kLogLockTimeoutMaxMs) {
    ThrowIfError(
        Refusal(absl::StatusCode::kInvalidArgument, {"R4"},
                absl::StrCat("Engine option wait_timeout_ms must be in [0, ",
                             limits::kLogLockTimeoutMaxMs, "]; got ", wait_timeout_ms.value)));
  }
  if (!options.log.empty() && !snapshot.is_none()) {
    ThrowIfError(Refusal(absl::StatusCode::kInvalidArgument, {"R5"},
                         "Engine.load makes no replica: a replica loads its group's newest "
                         "snapshot from the group's database (Engine(log=..., group=...))"));
  }
  // The clock last: the constructor calls it once, and a refused option must
  // not have called it.
  ClockChoice choice = ClockArg(clock);
  options.clock = choice.clock;
  std::unique_ptr<Engine> engine;
  if (!options.log.empty()) {
    // R5: connects, loads the group's newest snapshot, catches up: network
    // work, without the GIL.
    engine = ValueOrThrow(WithoutGil([&] { return OpenReplica(std::move(options)); }));
  } else if (snapshot.is_none()) {
    // Opening a journal recovers it: file work, without the GIL.
    engine = ValueOrThrow(WithoutGil([&] { return Engine::Open(std::move(options)); }));
  } else {
    const std::string path = PathArg(snapshot, "path");
    engine = ValueOrThrow(WithoutGil([&] { return LoadSnapshot(path, std::move(options)); }));
  }
  auto handle = std::make_unique<EngineHandle>(std::move(engine), choice.python);
  handle->wait_timeout_ms = wait_timeout_ms.value;
  return handle;
}

// R4: a read's `at_least=`: once every argument is converted, waits
// (without the GIL, up to the engine's wait_timeout_ms) until the replica
// has applied that position, then the read answers. None: no wait, no cost
// beyond the test.
using AtLeast = std::optional<AmountOf<"at_least">>;
void WaitAtLeast(const EngineLease& h, const AtLeast& at_least) {
  if (!at_least) return;
  const int64_t position = at_least->value;
  const int64_t timeout_ms = h.handle().wait_timeout_ms;
  ThrowIfError(WithoutGil([&] { return h->wait_for(position, timeout_ms); }));
}

void BindTenancy(py::class_<EngineHandle>& c) {
  c.def(
      "create_account",
      [](Self h, std::string name, IdOf<"owner"> owner, py::object plan,
         std::optional<std::string> key, std::string member_default_scope,
         std::string staff_member_role) {
        AccountSpec spec =
            AccountSpecArg(std::move(name), owner, plan, key.value_or(""),
                           std::move(member_default_scope), std::move(staff_member_role));
        return ValueOrThrow(WithoutGil([&] { return h->create_account(std::move(spec)); }));
      },
      py::arg("name"), py::arg("owner"), py::kw_only(), py::arg("plan") = "starter",
      py::arg("key") = py::none(), py::arg("member_default_scope") = "all",
      py::arg("staff_member_role") = "admin");
  c.def("_account", [](Self h, IdOf<"account"> account) {
    AccountInfo a = ValueOrThrow(h->account(account.value));
    return py::make_tuple(
        a.id, a.name, a.key.empty() ? py::object(py::none()) : py::str(a.key),
        a.plan_set ? py::object(py::make_tuple(a.plan.name, a.plan.workspace_limit, a.plan.agency))
                   : py::object(py::none()),
        a.owner, a.workspace_count);
  });
  c.def("set_plan", [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, py::object plan) {
    Plan p = RequiredPlanArg(plan);
    ThrowIfError(WithoutGil([&] { return h->set_plan(actor.value, account.value, std::move(p)); }));
  });
  c.def("create_user", [](Self h, std::string key) {
    return ValueOrThrow(WithoutGil([&] { return h->create_user(key); }));
  });
  c.def(
      "user",
      [](Self h, std::string key, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return ValueOrThrow(h->user(key));
      },
      py::arg("key"), py::kw_only(), py::arg("at_least") = py::none());
  c.def(
      "add_staff",
      [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"user"> user, std::string role,
         py::object scope) {
        std::optional<StaffScope> s = ScopeArg(scope);
        ThrowIfError(WithoutGil(
            [&] { return h->add_staff(actor.value, account.value, user.value, role, s); }));
      },
      py::arg("actor"), py::arg("account"), py::arg("user"), py::arg("role"), py::kw_only(),
      py::arg("scope") = py::none());
  c.def("set_staff_scope", [](Self h, IdOf<"actor"> actor, IdOf<"account"> account,
                              IdOf<"user"> user, py::object scope) {
    StaffScope s = RequiredScopeArg(scope);
    ThrowIfError(
        WithoutGil([&] { return h->set_staff_scope(actor.value, account.value, user.value, s); }));
  });
  c.def("remove_staff",
        [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"user"> user) {
          ThrowIfError(
              WithoutGil([&] { return h->remove_staff(actor.value, account.value, user.value); }));
        });
  c.def(
      "staff",
      [](Self h, IdOf<"account"> account, IdOf<"user"> user, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        auto [role, scope] = ValueOrThrow(h->staff(account.value, user.value));
        return py::make_tuple(role, ScopeValue(scope));
      },
      py::arg("account"), py::arg("user"), py::kw_only(), py::arg("at_least") = py::none());
  c.def(
      "create_workspace",
      [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, std::string name,
         std::optional<std::string> slug, const std::string& type,
         std::optional<IdOf<"parent">> parent, std::optional<IdOf<"owner">> owner) {
        WorkspaceSpec spec =
            WorkspaceSpecArg(std::move(name), std::move(slug), type, parent, owner);
        return ValueOrThrow(
            WithoutGil([&] { return h->create_workspace(actor.value, account.value, spec); }));
      },
      py::arg("actor"), py::arg("account"), py::arg("name"), py::kw_only(),
      py::arg("slug") = py::none(), py::arg("type") = "simple", py::arg("parent") = py::none(),
      py::arg("owner") = py::none());
  c.def(
      "slug_available",
      [](Self h, IdOf<"account"> account, std::string slug, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return h->slug_available(account.value, slug);
      },
      py::arg("account"), py::arg("slug"), py::kw_only(), py::arg("at_least") = py::none());
  c.def("_workspace", [](Self h, IdOf<"workspace"> workspace) {
    return WorkspaceTuple(ValueOrThrow(h->workspace(workspace.value)));
  });
  c.def("rename_workspace",
        [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string name) {
          ThrowIfError(
              WithoutGil([&] { return h->rename_workspace(actor.value, workspace.value, name); }));
        });
  c.def("set_status",
        [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, const std::string& status) {
          WorkspaceStatus s = WorkspaceStatusArg(status);
          ThrowIfError(WithoutGil([&] { return h->set_status(actor.value, workspace.value, s); }));
        });
  c.def("set_setting", [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace,
                          std::string name, py::object value) {
    SettingValue v = SettingArg(value);
    ThrowIfError(WithoutGil([&] { return h->set_setting(actor.value, workspace.value, name, v); }));
  });
  c.def(
      "settings",
      [](Self h, IdOf<"workspace"> workspace, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return SettingsDict(ValueOrThrow(h->settings(workspace.value)));
      },
      py::arg("workspace"), py::kw_only(), py::arg("at_least") = py::none());
  c.def(
      "delete_workspace",
      [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string confirm) {
        ThrowIfError(
            WithoutGil([&] { return h->delete_workspace(actor.value, workspace.value, confirm); }));
      },
      py::arg("actor"), py::arg("workspace"), py::kw_only(), py::arg("confirm"));
}

void BindPeople(py::class_<EngineHandle>& c) {
  c.def("add_member", [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace,
                         IdOf<"user"> user, std::string role) {
    ThrowIfError(
        WithoutGil([&] { return h->add_member(actor.value, workspace.value, user.value, role); }));
  });
  c.def("set_role", [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"user"> user,
                       std::string role) {
    ThrowIfError(
        WithoutGil([&] { return h->set_role(actor.value, workspace.value, user.value, role); }));
  });
  c.def("remove_member",
        [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"user"> user) {
          ThrowIfError(WithoutGil(
              [&] { return h->remove_member(actor.value, workspace.value, user.value); }));
        });
  c.def("transfer_ownership",
        [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, IdOf<"new_owner"> new_owner) {
          ThrowIfError(WithoutGil([&] {
            return h->transfer_ownership(actor.value, workspace.value, new_owner.value);
          }));
        });
  c.def(
      "define_role",
      [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, std::string name,
         std::vector<std::string> permissions, std::optional<std::string> inherits) {
        ThrowIfError(WithoutGil([&] {
          return h->define_role(actor.value, account.value, name, permissions,
                                inherits.value_or(""));
        }));
      },
      py::arg("actor"), py::arg("account"), py::arg("name"), py::arg("permissions"), py::kw_only(),
      py::arg("inherits") = py::none());
  c.def(
      "role_permissions",
      [](Self h, IdOf<"account"> account, std::string role, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return ValueOrThrow(h->role_permissions(account.value, role));
      },
      py::arg("account"), py::arg("role"), py::kw_only(), py::arg("at_least") = py::none());
  c.def("create_team", [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace,
                          std::string name, std::string role) {
    return ValueOrThrow(
        WithoutGil([&] { return h->create_team(actor.value, workspace.value, name, role); }));
  });
  c.def("add_team_member", [](Self h, IdOf<"actor"> actor, IdOf<"team"> team, IdOf<"user"> user) {
    ThrowIfError(
        WithoutGil([&] { return h->add_team_member(actor.value, team.value, user.value); }));
  });
  c.def(
      "remove_team_member", [](Self h, IdOf<"actor"> actor, IdOf<"team"> team, IdOf<"user"> user) {
        ThrowIfError(
            WithoutGil([&] { return h->remove_team_member(actor.value, team.value, user.value); }));
      });
  c.def("set_team_role", [](Self h, IdOf<"actor"> actor, IdOf<"team"> team, std::string role) {
    ThrowIfError(WithoutGil([&] { return h->set_team_role(actor.value, team.value, role); }));
  });
  c.def("delete_team", [](Self h, IdOf<"actor"> actor, IdOf<"team"> team) {
    ThrowIfError(WithoutGil([&] { return h->delete_team(actor.value, team.value); }));
  });
  c.def("_team", [](Self h, IdOf<"team"> team) {
    TeamInfo t = ValueOrThrow(h->team(team.value));
    return py::make_tuple(t.id, t.workspace, t.name, t.role, py::tuple(py::cast(t.members)));
  });
  c.def(
      "teams",
      [](Self h, IdOf<"workspace"> workspace, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return ValueOrThrow(h->teams(workspace.value));
      },
      py::arg("workspace"), py::kw_only(), py::arg("at_least") = py::none());
}

void BindInvitations(py::class_<EngineHandle>& c) {
  c.def("_invite", [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, std::string email,
                      std::string role) {
    const Invitation i = ValueOrThrow(
        WithoutGil([&] { return h->invite(actor.value, workspace.value, email, role); }));
    return InvitationTuple(i);
  });
  c.def("_invite_staff", [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, std::string email,
                            std::string role, py::object scope) {
    std::optional<StaffScope> s = ScopeArg(scope);
    const Invitation i = ValueOrThrow(
        WithoutGil([&] { return h->invite_staff(actor.value, account.value, email, role, s); }));
    return InvitationTuple(i);
  });
  c.def("accept", [](Self h, std::string token, IdOf<"user"> user) {
    ThrowIfError(WithoutGil([&] { return h->accept(token, user.value); }));
  });
  c.def("_resend", [](Self h, IdOf<"actor"> actor, IdOf<"invitation"> invitation) {
    const Invitation i =
        ValueOrThrow(WithoutGil([&] { return h->resend(actor.value, invitation.value); }));
    return InvitationTuple(i);
  });
  c.def("revoke_invitation", [](Self h, IdOf<"actor"> actor, IdOf<"invitation"> invitation) {
    ThrowIfError(WithoutGil([&] { return h->revoke_invitation(actor.value, invitation.value); }));
  });
  c.def("_invitation", [](Self h, IdOf<"invitation"> invitation) {
    const InvitationInfo i =
        ValueOrThrow(WithoutGil([&] { return h->invitation(invitation.value); }));
    return InvitationInfoTuple(i);
  });
  c.def("_invitations", [](Self h, IdOf<"workspace"> workspace) {
    const std::vector<InvitationInfo> all =
        ValueOrThrow(WithoutGil([&] { return h->invitations(workspace.value); }));
    py::list out;
    for (const InvitationInfo& i : all) out.append(InvitationInfoTuple(i));
    return out;
  });
}

void BindSessionsAndChecks(py::class_<EngineHandle>& c) {
  c.def("switch_workspace", [](Self h, IdOf<"user"> user, IdOf<"workspace"> workspace) {
    ThrowIfError(WithoutGil([&] { return h->switch_workspace(user.value, workspace.value); }));
  });
  c.def(
      "active_workspace",
      [](Self h, IdOf<"user"> user, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return WithoutGil([&] { return h->active_workspace(user.value); });
      },
      py::arg("user"), py::kw_only(), py::arg("at_least") = py::none());
  c.def("touch_session", [](Self h, IdOf<"user"> user) {
    ThrowIfError(WithoutGil([&] { return h->touch_session(user.value); }));
  });
  c.def("expire_sessions",
        [](Self h) { return ValueOrThrow(WithoutGil([&] { return h->expire_sessions(); })); });
  c.def(
      "_check_pybind11",
      [](Self h, IdOf<"user"> user, IdOf<"workspace"> workspace, uint32_t permission) {
        return h->check(user.value, workspace.value, permission);
      },
      "check through pybind11's generic dispatch: the benchmark's comparison.");
  c.def(
      "_check_repeat",
      [](Self h, IdOf<"user"> user, IdOf<"workspace"> workspace, uint32_t permission,
         IdOf<"times"> times) {
        uint64_t allowed = 0;
        for (uint64_t i = 0; i < times.value; ++i) {
          allowed += h->check(user.value, workspace.value, permission) ? 1 : 0;
        }
        return allowed;
      },
      "check(user, workspace, permission) `times` times in C++: the engine's own cost of a "
      "question, for the benchmark's breakdown of the Python call.");
  c.def("_check_many", [](Self h, py::array_t<uint64_t, py::array::c_style> users,
                          py::array_t<uint64_t, py::array::c_style> workspaces,
                          py::array_t<uint32_t, py::array::c_style> permissions) {
    py::array_t<bool> out(users.size());
    auto* results = reinterpret_cast<uint8_t*>(out.mutable_data());
    absl::Span<const UserId> u(users.data(), static_cast<size_t>(users.size()));
    absl::Span<const WorkspaceId> w(workspaces.data(), static_cast<size_t>(workspaces.size()));
    absl::Span<const PermissionId> p(permissions.data(), static_cast<size_t>(permissions.size()));
    // The arrays stay referenced by this frame; the batch runs without the GIL.
    const absl::Status status =
        WithoutGil([&] { return h->check_many(u, w, p, absl::MakeSpan(results, u.size())); });
    ThrowIfError(status);
    return out;
  });
  c.def("_explain",
        [](Self h, IdOf<"user"> user, IdOf<"workspace"> workspace, py::object permission) {
          Decision d =
              ValueOrThrow(h->explain(user.value, workspace.value, PermissionArg(h, permission)));
          return py::make_tuple(d.allowed, AccessPathName(d.path),
                                d.role.empty() ? py::object(py::none()) : py::str(d.role),
                                OptionalId(d.via_workspace), OptionalId(d.via_team), d.reason);
        });
  c.def(
      "workspaces_for",
      [](Self h, IdOf<"user"> user, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return h->workspaces_for(user.value);
      },
      py::arg("user"), py::kw_only(), py::arg("at_least") = py::none());
  c.def(
      "members",
      [](Self h, IdOf<"workspace"> workspace, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        py::list out;
        for (const Member& m : ValueOrThrow(h->members(workspace.value))) {
          out.append(py::make_tuple(m.user, m.role));
        }
        return out;
      },
      py::arg("workspace"), py::kw_only(), py::arg("at_least") = py::none());
  // A permission name is resolved after the wait: it may have been
  // registered by the change waited for.
  c.def(
      "who_can",
      [](Self h, IdOf<"workspace"> workspace, py::object permission, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return h->who_can(workspace.value, PermissionArg(h, permission));
      },
      py::arg("workspace"), py::arg("permission"), py::kw_only(), py::arg("at_least") = py::none());
  c.def(
      "accessible",
      [](Self h, IdOf<"user"> user, py::object permission, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return h->accessible(user.value, PermissionArg(h, permission));
      },
      py::arg("user"), py::arg("permission"), py::kw_only(), py::arg("at_least") = py::none());
}

py::dict BucketDict(const MeterInfo& meter, const BucketAmounts& amounts) {
  py::dict d;
  for (size_t i = 0; i < meter.buckets.size(); ++i) d[py::str(meter.buckets[i])] = amounts[i];
  return d;
}

void BindCredits(py::class_<EngineHandle>& c) {
  c.def("define_meter", [](Self h, std::string name, std::vector<std::string> buckets) {
    ValueOrThrow(WithoutGil([&] { return h->define_meter(name, buckets); }));
  });
  c.def("_meter", [](Self h, py::object meter) {
    MeterInfo m = ValueOrThrow(h->meter(MeterArg(h, meter)));
    return py::make_tuple(m.id, m.name, py::tuple(py::cast(m.buckets)));
  });
  c.def(
      "grant",
      [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, AmountOf<"amount"> amount,
         py::object meter, std::string bucket) {
        const MeterId id = MeterArg(h, meter);
        ThrowIfError(WithoutGil(
            [&] { return h->grant(actor.value, account.value, amount.value, id, bucket); }));
      },
      py::arg("actor"), py::arg("account"), py::arg("amount"), py::kw_only(),
      py::arg("meter") = "credits", py::arg("bucket") = "regular");
  c.def(
      "transfer",
      [](Self h, IdOf<"actor"> actor, IdOf<"account"> account, IdOf<"workspace"> workspace,
         AmountOf<"amount"> amount, py::object meter) {
        const MeterId id = MeterArg(h, meter);
        const BucketAmounts taken = ValueOrThrow(WithoutGil([&] {
          return h->transfer(actor.value, account.value, workspace.value, amount.value, id);
        }));
        return BucketDict(ValueOrThrow(h->meter(id)), taken);
      },
      py::arg("actor"), py::arg("account"), py::arg("workspace"), py::arg("amount"), py::kw_only(),
      py::arg("meter") = "credits");
  c.def(
      "revoke",
      [](Self h, IdOf<"actor"> actor, IdOf<"workspace"> workspace, AmountOf<"amount"> amount,
         std::string bucket, py::object meter) {
        const MeterId id = MeterArg(h, meter);
        ThrowIfError(WithoutGil(
            [&] { return h->revoke(actor.value, workspace.value, amount.value, id, bucket); }));
      },
      py::arg("actor"), py::arg("workspace"), py::arg("amount"), py::kw_only(),
      py::arg("bucket") = "regular", py::arg("meter") = "credits");
  c.def(
      "reserve",
      [](Self h, IdOf<"workspace"> workspace, AmountOf<"amount"> amount, py::object meter,
         AmountOf<"ttl_s"> ttl_s) {
        const MeterId id = MeterArg(h, meter);
        return ValueOrThrow(
            WithoutGil([&] { return h->reserve(workspace.value, amount.value, id, ttl_s.value); }));
      },
      py::arg("workspace"), py::arg("amount"), py::kw_only(), py::arg("meter") = "credits",
      py::arg("ttl_s") = 3600);
  c.def("commit", [](Self h, IdOf<"reservation"> reservation, AmountOf<"actual"> actual) {
    ThrowIfError(WithoutGil([&] { return h->commit(reservation.value, actual.value); }));
  });
  c.def("release", [](Self h, IdOf<"reservation"> reservation) {
    ThrowIfError(WithoutGil([&] { return h->release(reservation.value); }));
  });
  c.def("expire_reservations",
        [](Self h) { return ValueOrThrow(WithoutGil([&] { return h->expire_reservations(); })); });
  c.def("_reservation", [](Self h, IdOf<"reservation"> reservation) {
    ReservationInfo r = ValueOrThrow(h->reservation(reservation.value));
    return py::make_tuple(r.id, r.workspace, r.meter, py::make_tuple(r.held[0], r.held[1]),
                          r.expires_at_ns);
  });
  c.def(
      "balance",
      [](Self h, IdOf<"workspace"> workspace, py::object meter, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        const MeterId id = MeterArg(h, meter);
        const Balance b = ValueOrThrow(h->balance(workspace.value, id));
        py::dict d = BucketDict(ValueOrThrow(h->meter(id)), b.buckets);
        d["held"] = b.held;
        return d;
      },
      py::arg("workspace"), py::kw_only(), py::arg("meter") = "credits",
      py::arg("at_least") = py::none());
  c.def(
      "consumed",
      [](Self h, IdOf<"workspace"> workspace, py::object meter, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        return ValueOrThrow(h->balance(workspace.value, MeterArg(h, meter))).consumed;
      },
      py::arg("workspace"), py::kw_only(), py::arg("meter") = "credits",
      py::arg("at_least") = py::none());
  c.def(
      "account_balance",
      [](Self h, IdOf<"account"> account, py::object meter, const AtLeast& at_least) {
        WaitAtLeast(h, at_least);
        const MeterId id = MeterArg(h, meter);
        const AccountBalance b = ValueOrThrow(h->account_balance(account.value, id));
        py::dict d = BucketDict(ValueOrThrow(h->meter(id)), b.buckets);
        d["granted"] = b.granted;
        d["consumed_by_deleted"] = b.consumed_by_deleted;
        return d;
      },
      py::arg("account"), py::kw_only(), py::arg("meter") = "credits",
      py::arg("at_least") = py::none());
  c.def("_ledger", [](Self h, IdOf<"account"> account, IdOf<"workspace"> workspace,
                      AmountOf<"since"> since_ns, IdOf<"after_sequence"> after_sequence) {
    LedgerQuery query{account.value, workspace.value, since_ns.value, after_sequence.value};
    const std::vector<LedgerEntry> entries =
        ValueOrThrow(WithoutGil([&] { return h->ledger(query); }));
    py::list out;
    for (const LedgerEntry& e : entries) out.append(LedgerTuple(e));
    return out;
  });
  c.def(
      "authorize_and_consume",
      [](Self h, IdOf<"user"> user, IdOf<"workspace"> workspace, py::object permission,
         AmountOf<"amount"> amount, py::object meter) {
        const PermissionId p = PermissionArg(h, permission);
        const MeterId m = MeterArg(h, meter);
        // A debit, like consume: refused from inside a Python clock, with
        // or without a journal (without one it would run, under the lock
        // of the change that called the clock).
        if (InsideClock()) {
          RefuseInsideClock("authorize_and_consume");
          throw py::error_already_set();
        }
        // With a journal, a consume waits for its lock, whose holder may
        // need the GIL (a Python clock): release it then.
        auto run = [&] {
          return h->authorize_and_consume(user.value, workspace.value, p, amount.value, m);
        };
        return ValueOrThrow(h->has_journal() ? WithoutGil(run) : run());
      },
      py::arg("user"), py::arg("workspace"), py::arg("permission"), py::arg("amount"),
      py::kw_only(), py::arg("meter") = "credits");
}

// Replicas (R1-R8): positions, waits, prepared changes, follow after fork,
// the snapshots stored in the group's log. Everything that may wait for the
// database or the follower runs without the GIL.
void BindReplicas(py::class_<EngineHandle>& c) {
  c.def_property_readonly(
      "is_replica", [](Self h) { return h->is_replica(); },
      "Whether this engine follows a group's log (Engine(log=..., group=...)).");
  c.def_property_readonly(
      "position", [](Self h) { return h->position(); },
      "R4: the last position of the group's log applied here (0 for an engine that is no "
      "replica).");
  c.def_property_readonly(
      "last_change_position", [](Self h) { return h->last_change_position(); },
      "R4: the position of the last change the calling thread made on this engine (0 if "
      "none): wait_for it (or pass it as at_least=) on another replica to read that change.");
  c.def(
      "wait_for",
      [](Self h, AmountOf<"position"> position, std::optional<AmountOf<"timeout_ms">> timeout_ms) {
        const int64_t timeout = timeout_ms ? timeout_ms->value : h.handle().wait_timeout_ms;
        if (timeout < 0) {
          throw StatusError(Refusal(absl::StatusCode::kInvalidArgument, {"R4"},
                                    absl::StrCat("timeout_ms must be >= 0; got ", timeout)));
        }
        ThrowIfError(WithoutGil([&] { return h->wait_for(position.value, timeout); }));
      },
      py::arg("position"), py::arg("timeout_ms") = py::none(),
      "R4: returns once `position` >= the given one; DeadlineExceeded naming both positions\n"
      "after timeout_ms (None: the engine's wait_timeout_ms).");
  c.def("_at_least",
        [](Self h, AmountOf<"at_least"> at_least) { WaitAtLeast(h, AtLeast(at_least)); });
  c.def(
      "_prepare",
      [](Self h, const Batch& batch, std::optional<std::string> change_id) {
        const Batch copy = batch;
        const PreparedChange p = ValueOrThrow(
            WithoutGil([&] { return h->prepare(copy, change_id.value_or(std::string())); }));
        return py::make_tuple(p.expected_position, p.change_id, py::bytes(p.record),
                              p.format_version, p.sql);
      },
      py::arg("batch"), py::arg("change_id") = py::none());
  c.def(
      "follow", [](Self h) { ThrowIfError(WithoutGil([&] { return h->follow(); })); },
      "R5: in a process forked after the replica was opened: its own replica id and\n"
      "connections, and following again. Until then its changes are refused; reads go on.\n"
      "Does nothing elsewhere.");
  c.def(
      "snapshot_to_log",
      [](Self h) { return ValueOrThrow(WithoutGil([&] { return SaveSnapshotToLog(*h); })); },
      "R5: stores a snapshot of this replica's state in the group's database and returns its\n"
      "position; a new replica starts from the newest one.");
  c.def(
      "truncate_log",
      [](Self h) { return ValueOrThrow(WithoutGil([&] { return TruncateLog(*h); })); },
      "R5: removes the records below the older of the two newest stored snapshots (and older\n"
      "snapshots); returns the first position kept (1: nothing removed).");
}

void BindFeedAndInvariants(py::class_<EngineHandle>& c) {
  c.def("_changes_since", [](Self h, IdOf<"revision"> revision) {
    const std::vector<AuditRecord> records =
        ValueOrThrow(WithoutGil([&] { return h->changes_since(revision.value); }));
    py::list out;
    for (const AuditRecord& r : records) out.append(ChangeTuple(r));
    return out;
  });
  c.def(
      "apply",
      [](Self h, const Batch& batch, std::optional<std::string> change_id) {
        // A copy, taken with the GIL: another thread may append to the Python
        // Batch (reallocating its changes) while this one applies without it.
        const Batch copy = batch;
        if (!change_id) return ValueOrThrow(WithoutGil([&] { return h->apply(copy); }));
        // R7: with the change's id (a retry of an Unavailable is applied once).
        return ValueOrThrow(WithoutGil([&] { return h->apply(copy, *change_id); }));
      },
      py::arg("batch"), py::arg("change_id") = py::none());
  c.def("verify", [](Self h) { ThrowIfError(WithoutGil([&] { return h->verify(); })); });
  c.def("stats", [](Self h) {
    const Engine::Stats s = h->stats();
    py::dict d;
    d["accounts"] = s.accounts;
    d["users"] = s.users;
    d["workspaces"] = s.workspaces;
    d["memberships"] = s.memberships;
    return d;
  });
}

// pybind11's tp_dealloc of its instances (pybind11_object_dealloc), which
// the Engine type's own wraps.
destructor pybind11_dealloc = nullptr;

// The Engine type takes part in garbage collection (its clock), but
// pybind11's dealloc does not know it: it leaves the instance tracked while
// it destroys the EngineHandle, and CPython's subtype_dealloc even tracks
// it again before calling a GC base's tp_dealloc. That destruction runs
// Python (the PythonClock drops its callable; pybind11 then clears weak
// references, __dict__ and patients), so a collection could traverse a
// half-destroyed instance with no references left, or tp_clear it and
// deallocate it a second time. Untracked first, the collector never sees it.
void EngineDealloc(PyObject* self) {
  PyObject_GC_UnTrack(self);
  pybind11_dealloc(self);
}

int EngineTraverse(PyObject* self, visitproc visit, void* arg) {
  Py_VISIT(Py_TYPE(self));  // heap types own a reference to their type
  // Any state the collector can see: not yet laid out, laid out but not
  // constructed (__new__ alone, or inside __init__), constructed.
  EngineHandle* handle = ConstructedHandle(self);
  if (handle != nullptr && handle->python_clock != nullptr) {
    return handle->python_clock->Visit(visit, arg);
  }
  return 0;
}

int EngineClear(PyObject* self) {
  // The engine keeps working: a cleared clock keeps its last time.
  EngineHandle* handle = ConstructedHandle(self);
  if (handle != nullptr && handle->python_clock != nullptr) handle->python_clock->Clear();
  return 0;
}

py::tuple JournalRecoveryTuple(const JournalRecovery& r) {
  py::list readable;
  for (const LostRecord& lost : r.readable) readable.append(py::make_tuple(lost.lsn, lost.what));
  return py::make_tuple(r.records, r.torn_bytes, r.damaged, r.truncated, r.reason, r.segment,
                        r.offset, r.kept_through_lsn, r.lost_through_lsn, readable, r.set_aside,
                        FormatJournalRecovery(r));
}

// The handle of `self` for the methods that take no lease (closing).
EngineHandle& HandleArg(py::handle self) {
  EngineHandle* handle = HandleOf(self.ptr());
  if (handle == nullptr) throw py::error_already_set();
  return *handle;
}

// Engine.close() and the context manager (engine_handle.h says how a close
// meets the calls in flight). None of these takes a lease: close waits for
// every lease to end.
void BindClose(py::class_<EngineHandle>& c) {
  c.def(
      "close", [](py::handle self) { HandleArg(self).Close(); },
      "Flushes the journal (whatever the durability), releases its directory lock and frees\n"
      "the engine, once the calls in flight on other threads have returned. Idempotent; any\n"
      "use afterwards raises FailedPrecondition (engine is closed).");
  c.def_property_readonly(
      "closed", [](py::handle self) { return HandleArg(self).closed(); },
      "True once close() has been called.");
  c.def("__enter__", [](py::object self) {
    if (HandleArg(self).closed()) throw StatusError(EngineClosed());
    return self;
  });
  c.def(
      "__exit__",
      [](py::handle self, py::object /*exc_type*/, py::object /*exc_value*/,
         py::object /*traceback*/) { HandleArg(self).Close(); },
      py::arg("exc_type"), py::arg("exc_value"), py::arg("traceback"));
}

}  // namespace

void BindJournalRepair(py::module_& module) {
  module.def(
      "_repair_journal",
      [](py::object path, bool dry_run) {
        const std::string dir = PathArg(path, "path");
        // File work (reading, copying, flushing): without the GIL.
        return JournalRecoveryTuple(
            ValueOrThrow(WithoutGil([&] { return RepairJournal(dir, dry_run); })));
      },
      py::arg("path"), py::kw_only(), py::arg("dry_run"));
}

py::class_<EngineHandle> BindEngine(py::module_& module) {
  py::class_<EngineHandle> c(
      module, "Engine", "The engine (thin layer). Use tenantry.Engine, which derives from it.",
      py::custom_type_setup([](PyHeapTypeObject* heap_type) {
        // The engine may hold a Python clock, and the clock may refer back
        // to the engine (a bound method, a closure): let the collector see it.
        // Called before PyType_Ready: tp_dealloc is still unset here (it
        // would be inherited), and the base is pybind11's object type.
        PyTypeObject* type = &heap_type->ht_type;
        type->tp_flags |= Py_TPFLAGS_HAVE_GC;
        type->tp_traverse = EngineTraverse;
        type->tp_clear = EngineClear;
        pybind11_dealloc =
            type->tp_dealloc != nullptr ? type->tp_dealloc : type->tp_base->tp_dealloc;
        type->tp_dealloc = EngineDealloc;
      }));
  if (pybind11_dealloc == nullptr)
    py::pybind11_fail("tenantry: pybind11's instance tp_dealloc not found");
  SetEngineType(c);
  c.def(py::init(&MakeEngine), py::kw_only(), py::arg("clock") = py::none(),
        py::arg("feed_retention") = limits::kFeedRetentionDefault,
        py::arg("invitation_ttl_s") = limits::kInvitationTtlDefaultS,
        py::arg("idempotency_window_s") = limits::kIdempotencyWindowDefaultS,
        py::arg("idempotency_slots") = limits::kIdempotencySlotsDefault,
        py::arg("reservation_slots") = limits::kReservationSlotsDefault,
        py::arg("ledger_retention") = limits::kLedgerRetentionDefault,
        py::arg("journal") = py::none(), py::arg("durability") = "sync",
        py::arg("group_commit_ms") = limits::kGroupCommitDefaultMs, py::arg("on_damage") = "refuse",
        py::arg("log") = py::none(), py::arg("group") = py::none(),
        py::arg("replica_id") = py::none(),
        py::arg("log_lock_timeout_ms") = limits::kLogLockTimeoutDefaultMs,
        py::arg("log_poll_ms") = limits::kLogPollDefaultMs, py::arg("lease_credits") = true,
        py::arg("lease_max") = limits::kLeaseMaxDefault,
        py::arg("lease_share") = limits::kLeaseShareDefault,
        py::arg("lease_floor") = limits::kLeaseFloorDefault,
        py::arg("settle_interval_ms") = limits::kSettleIntervalDefaultMs,
        py::arg("lease_ttl_ms") = limits::kLeaseTtlDefaultMs, py::arg("wait_timeout_ms") = 5000,
        py::arg("_snapshot") = py::none());
  BindClose(c);
  c.def_property_readonly("_journal_recovery",
                          [](Self h) { return JournalRecoveryTuple(h->journal_recovery()); });
  c.def(
      "save",
      [](Self h, py::object path) {
        const std::string text = PathArg(path, "path");
        ThrowIfError(WithoutGil([&] { return SaveSnapshot(*h, text); }));
      },
      py::arg("path"),
      "P1: writes one consistent cut of the engine to `path` (a temporary file, flushed,\n"
      "renamed, the directory flushed), while reads and writes go on. The file holds the\n"
      "engine's secrets: protect it. NotFound / PermissionDenied / ResourceExhausted for\n"
      "the file system's refusals.");
  c.def_property_readonly("revision", [](Self h) { return h->revision(); });
  c.def("permission", [](Self h, py::object name) {
    if (!py::isinstance<py::str>(name)) throw py::type_error("permission name must be a str");
    return PermissionArg(h, name);
  });
  c.def("register_permission", [](Self h, std::string name) {
    return ValueOrThrow(WithoutGil([&] { return h->register_permission(name); }));
  });
  c.def("permission_name", [](Self h, IdOf<"permission"> permission) {
    if (permission.value > UINT32_MAX) {
      throw StatusError(
          Refusal(absl::StatusCode::kInvalidArgument, {"M7"},
                  absl::StrCat("a permission id is below 2**32; got ", permission.value)));
    }
    return ValueOrThrow(h->permission_name(static_cast<PermissionId>(permission.value)));
  });
  BindTenancy(c);
  BindPeople(c);
  BindInvitations(c);
  BindSessionsAndChecks(c);
  BindCredits(c);
  BindFeedAndInvariants(c);
  BindReplicas(c);
  return c;
}

}  // namespace tenantry::python
