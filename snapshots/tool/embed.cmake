# Writes OUT, a C++ file defining kTenantrySchema: the bytes of IN (the
# binary schema tenantry.bfbs), for the tool's reflection-based dump.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE "${OUT}" "// Generated from tenantry.bfbs by snapshots/tool/embed.cmake.\n"
  "alignas(16) extern const unsigned char kTenantrySchema[] = {${bytes}};\n")
