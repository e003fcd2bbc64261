// Copyright 2026 The tenantry Authors.
//
// Changes as data. Every change the writer runs (a call such as
// `add_member`, or one entry of a Batch) is first encoded as an op: its code
// and its arguments in a small binary form, then decoded and dispatched to
// the Writer method of the same name. The same bytes are what the journal
// keeps (P3), so that recovery runs exactly the code the live engine ran:
// there is one list of changes, below, and no second interpreter to keep in
// step with it.
//
// The encoding is part of the journal format: an op code is never reused
// or renumbered, and a change's arguments are only ever appended to.
// Integers are little-endian and fixed-width; a string is a u32 length and
// its bytes; an optional is a presence byte and the value.
#ifndef TENANTRY_CORE_SRC_OPS_H_
#define TENANTRY_CORE_SRC_OPS_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tenantry/types.h"
#include "writer.h"

namespace tenantry::internal {

// Every change the writer knows: (code, Writer method, name). The names are
// the Engine's (and the error messages' "change #i (name)").
#define TENANTRY_OPS(X)                           \
  X(1, RegisterPermission, "register_permission") \
  X(2, CreateUser, "create_user")                 \
  X(3, CreateAccount, "create_account")           \
  X(4, SetPlan, "set_plan")                       \
  X(5, AddStaff, "add_staff")                     \
  X(6, SetStaffScope, "set_staff_scope")          \
  X(7, RemoveStaff, "remove_staff")               \
  X(8, CreateWorkspace, "create_workspace")       \
  X(9, RenameWorkspace, "rename_workspace")       \
  X(10, SetStatus, "set_status")                  \
  X(11, SetSetting, "set_setting")                \
  X(12, AddMember, "add_member")                  \
  X(13, SetRole, "set_role")                      \
  X(14, RemoveMember, "remove_member")            \
  X(15, TransferOwnership, "transfer_ownership")  \
  X(16, SwitchWorkspace, "switch_workspace")      \
  X(17, TouchSession, "touch_session")            \
  X(18, ExpireSessions, "expire_sessions")        \
  X(19, DefineRole, "define_role")                \
  X(20, CreateTeam, "create_team")                \
  X(21, AddTeamMember, "add_team_member")         \
  X(22, RemoveTeamMember, "remove_team_member")   \
  X(23, SetTeamRole, "set_team_role")             \
  X(24, DeleteTeam, "delete_team")                \
  X(25, Invite, "invite")                         \
  X(26, InviteStaff, "invite_staff")              \
  X(27, Accept, "accept")                         \
  X(28, Resend, "resend")                         \
  X(29, RevokeInvitation, "revoke_invitation")    \
  X(30, DeleteWorkspace, "delete_workspace")      \
  X(31, DefineMeter, "define_meter")              \
  X(32, GrantCredits, "grant")                    \
  X(33, Transfer, "transfer")                     \
  X(34, Revoke, "revoke")                         \
  X(35, ConsumeCredits, "consume")                \
  X(36, HoldCredits, "hold")                      \
  X(37, SettleLease, "settle_lease")              \
  X(38, SettleReservation, "settle_reservation")  \
  X(39, ExpireHolds, "expire_holds")              \
  X(40, RefusedConsume, "refused_consume")        \
  X(41, RecallLeases, "recall_leases")

enum class OpCode : uint8_t {
#define TENANTRY_OP_ENUM(code, method, name) k##method = code,
  TENANTRY_OPS(TENANTRY_OP_ENUM)
#undef TENANTRY_OP_ENUM
};

// The change's name ("add_member"); "unknown" for a code no change has.
const char* OpName(uint8_t code);

// The op's code; false for an empty op.
inline bool OpCodeOf(absl::string_view op, uint8_t* code) {
  if (op.empty()) return false;
  *code = static_cast<uint8_t>(op[0]);
  return true;
}

// Transfer and Revoke move credits between a pool and a workspace's cell in
// the change itself (every other change reaches cells, if at all, when the
// transaction finishes). The journal orders such changes with consumption.
// (ConsumeCredits runs only on replicas, which have no journal.)
inline bool OpMovesCredits(uint8_t code) {
  return code == static_cast<uint8_t>(OpCode::kTransfer) ||
         code == static_cast<uint8_t>(OpCode::kRevoke) ||
         code == static_cast<uint8_t>(OpCode::kConsumeCredits) ||
         code == static_cast<uint8_t>(OpCode::kHoldCredits) ||
         code == static_cast<uint8_t>(OpCode::kSettleLease) ||
         code == static_cast<uint8_t>(OpCode::kSettleReservation) ||
         code == static_cast<uint8_t>(OpCode::kExpireHolds);
}

// ---- The encoding ----

// A MeterRef that owns its name.
struct StoredMeter {
  bool by_name = false;
  MeterId id = 0;
  std::string name;
};

class OpWriter {
 public:
  explicit OpWriter(std::string* out) : out_(out) {}

  void Put(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Put(bool v) { Put(static_cast<uint8_t>(v ? 1 : 0)); }
  void Put(uint32_t v) { Raw(&v, sizeof v); }
  void Put(uint64_t v) { Raw(&v, sizeof v); }
  void Put(int64_t v) { Raw(&v, sizeof v); }
  void Put(absl::string_view s) {
    Put(static_cast<uint32_t>(s.size()));
    out_->append(s.data(), s.size());
  }
  void Put(const std::string& s) { Put(absl::string_view(s)); }
  void Put(const char* s) { Put(absl::string_view(s)); }
  void Put(WorkspaceStatus v) { Put(static_cast<uint8_t>(v)); }
  void Put(WorkspaceType v) { Put(static_cast<uint8_t>(v)); }
  template <class T>
  void Put(const std::vector<T>& v) {
    Put(static_cast<uint32_t>(v.size()));
    for (const T& e : v) Put(e);
  }
  template <class T>
  void Put(const std::optional<T>& v) {
    Put(v.has_value());
    if (v.has_value()) Put(*v);
  }
  void Put(const Plan& p) {
    Put(p.name);
    Put(p.workspace_limit);
    Put(p.agency);
  }
  void Put(const StaffScope& s) {
    Put(s.all);
    Put(s.workspaces);
  }
  void Put(const SettingValue& v) {
    Put(static_cast<uint8_t>(v.index()));
    if (const bool* b = std::get_if<bool>(&v)) {
      Put(*b);
    } else {
      Put(std::get<int64_t>(v));
    }
  }
  void Put(const MeterRef& m) {
    Put(m.by_name());
    if (m.by_name()) {
      Put(m.name());
    } else {
      Put(m.id());
    }
  }
  void Put(const AccountSpec& s) {
    Put(s.name);
    Put(s.owner);
    Put(s.plan);
    Put(s.key);
    Put(s.member_default_scope);
    Put(s.staff_member_role);
  }
  void Put(const WorkspaceSpec& s) {
    Put(s.name);
    Put(s.slug);
    Put(s.type);
    Put(s.parent);
    Put(s.owner);
  }

 private:
  void Raw(const void* p, size_t n) { out_->append(static_cast<const char*>(p), n); }
  std::string* out_;
};

// Reads what OpWriter wrote. Never reads past the end: a short or malformed
// op makes every later Get fail (ok() false), and nothing is trusted then.
class OpReader {
 public:
  explicit OpReader(absl::string_view in) : in_(in) {}
  bool ok() const { return ok_; }
  bool done() const { return ok_ && in_.empty(); }

  bool Get(uint8_t* v) { return Raw(v, 1); }
  bool Get(bool* v) {
    uint8_t b = 0;
    if (!Get(&b) || b > 1) return Fail();
    *v = b != 0;
    return true;
  }
  bool Get(uint32_t* v) { return Raw(v, sizeof *v); }
  bool Get(uint64_t* v) { return Raw(v, sizeof *v); }
  bool Get(int64_t* v) { return Raw(v, sizeof *v); }
  bool Get(std::string* s) {
    uint32_t n = 0;
    if (!Get(&n) || n > in_.size()) return Fail();
    s->assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Get(WorkspaceStatus* v) { return Enum(v, 1); }
  bool Get(WorkspaceType* v) { return Enum(v, 1); }
  template <class T>
  bool Get(std::vector<T>* v) {
    uint32_t n = 0;
    // Every element takes at least one byte: a count past what is left is
    // damage, not a reason to allocate.
    if (!Get(&n) || n > in_.size()) return Fail();
    v->resize(n);
    for (T& e : *v) {
      if (!Get(&e)) return false;
    }
    return true;
  }
  template <class T>
  bool Get(std::optional<T>* v) {
    bool has = false;
    if (!Get(&has)) return false;
    if (!has) {
      v->reset();
      return true;
    }
    v->emplace();
    return Get(&**v);
  }
  bool Get(Plan* p) { return Get(&p->name) && Get(&p->workspace_limit) && Get(&p->agency); }
  bool Get(StaffScope* s) { return Get(&s->all) && Get(&s->workspaces); }
  bool Get(SettingValue* v) {
    uint8_t index = 0;
    if (!Get(&index)) return false;
    if (index == 0) {
      bool b = false;
      if (!Get(&b)) return false;
      *v = b;
      return true;
    }
    int64_t i = 0;
    if (index != 1 || !Get(&i)) return Fail();
    *v = i;
    return true;
  }
  bool Get(StoredMeter* m) {
    if (!Get(&m->by_name)) return false;
    return m->by_name ? Get(&m->name) : Get(&m->id);
  }
  bool Get(AccountSpec* s) {
    return Get(&s->name) && Get(&s->owner) && Get(&s->plan) && Get(&s->key) &&
           Get(&s->member_default_scope) && Get(&s->staff_member_role);
  }
  bool Get(WorkspaceSpec* s) {
    return Get(&s->name) && Get(&s->slug) && Get(&s->type) && Get(&s->parent) && Get(&s->owner);
  }

 private:
  template <class E>
  bool Enum(E* v, uint8_t max) {
    uint8_t b = 0;
    if (!Get(&b) || b > max) return Fail();
    *v = static_cast<E>(b);
    return true;
  }
  bool Raw(void* p, size_t n) {
    if (!ok_ || in_.size() < n) return Fail();
    std::memcpy(p, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  bool Fail() {
    ok_ = false;
    return false;
  }
  absl::string_view in_;
  bool ok_ = true;
};

// ---- From a Writer method's parameters to what an op stores ----

template <class P>
struct StoredOf {
  using type = std::remove_cvref_t<P>;
};
template <>
struct StoredOf<absl::string_view> {
  using type = std::string;
};
template <>
struct StoredOf<MeterRef> {
  using type = StoredMeter;
};
template <class P>
using Stored = typename StoredOf<P>::type;

template <class T>
const T& Use(const T& v) {
  return v;
}
inline MeterRef Use(const StoredMeter& m) {
  return m.by_name ? MeterRef(absl::string_view(m.name)) : MeterRef(m.id);
}

template <auto Method>
inline constexpr OpCode kOpOf{};
#define TENANTRY_OP_CODE(code, method, name) \
  template <>                                \
  inline constexpr OpCode kOpOf<&Writer::method> = OpCode::k##method;
TENANTRY_OPS(TENANTRY_OP_CODE)
#undef TENANTRY_OP_CODE

template <class R, class... P, class... A>
void EncodeArgs(R (Writer::*)(P...), OpWriter& w, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "an op takes every parameter of its method");
  // Converted to the parameter's type first, so an op always holds exactly
  // what its decoder reads.
  (w.Put(static_cast<P>(std::forward<A>(args))), ...);
}

// The op that runs `Method` with `args` (converted as the method's
// parameters are).
template <auto Method, class... A>
std::string Encode(A&&... args) {
  std::string op;
  OpWriter w(&op);
  w.Put(static_cast<uint8_t>(kOpOf<Method>));
  EncodeArgs(Method, w, std::forward<A>(args)...);
  return op;
}

// Runs one op on the writer: the id it created (0 for none), or the
// change's error. DataLoss for an op that does not decode (a damaged
// journal record: the live engine only runs ops it encoded).
absl::StatusOr<uint64_t> Dispatch(Writer& writer, absl::string_view op);

}  // namespace tenantry::internal

#endif  // TENANTRY_CORE_SRC_OPS_H_
