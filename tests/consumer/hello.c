/* The README's C example, built by tests/consumer/run.sh against an
 * installed tenantry (once with pkg-config, once with find_package). */
#include <stdio.h>
#include <tenantry/tenantry.h>

#define TRY(call)                                                                   \
  do {                                                                              \
    tny_status s_ = (call);                                                         \
    if (s_ != TNY_OK) {                                                             \
      fprintf(stderr, "%s: %s: %s\n", #call, tny_status_str(s_), tny_last_error()); \
      return 1;                                                                     \
    }                                                                               \
  } while (0)

int main(void) {
  tny_engine* e = NULL;
  tny_account_spec account = TNY_ACCOUNT_SPEC_INIT;
  tny_workspace_spec agency = TNY_WORKSPACE_SPEC_INIT, client = TNY_WORKSPACE_SPEC_INIT;
  tny_plan enterprise = {"enterprise", 0, 0, 0};
  uint64_t owner, alice, acme, hq, shop;
  uint32_t view;
  int64_t left = 0;

  if (tny_version_number() < TNY_VERSION_NUMBER) return 1; /* a library older than the header */
  TRY(tny_engine_new(NULL, &e));
  TRY(tny_create_user(e, "owner@acme.test", &owner));
  TRY(tny_create_user(e, "alice@acme.test", &alice));
  account.name = "Acme";
  account.owner = owner;
  account.plan = &enterprise;
  TRY(tny_create_account(e, &account, &acme));
  agency.name = "Acme Agency";
  agency.type = TNY_WORKSPACE_AGENCY;
  TRY(tny_create_workspace(e, owner, acme, &agency, &hq));
  client.name = "Client Shop";
  client.parent = hq;
  TRY(tny_create_workspace(e, owner, acme, &client, &shop));
  TRY(tny_add_member(e, owner, hq, alice, "manager"));

  TRY(tny_permission(e, "contacts.view", &view)); /* intern once, check often */
  printf("alice may view contacts in the client shop: %d\n", tny_check(e, alice, shop, view));

  TRY(tny_grant(e, TNY_SYSTEM, acme, 100, TNY_METER_CREDITS, NULL));
  TRY(tny_transfer(e, owner, acme, shop, 60, TNY_METER_CREDITS, NULL));
  TRY(tny_consume(e, shop, 25, TNY_METER_CREDITS, &left));
  printf("credits left in the shop: %lld\n", (long long)left);
  if (tny_consume(e, shop, 1000, TNY_METER_CREDITS, NULL) == TNY_RESOURCE_EXHAUSTED) {
    printf("refused: %s\n", tny_last_error());
  }
  tny_engine_free(e);
  return 0;
}
