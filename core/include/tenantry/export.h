// Copyright 2026 The tenantry Authors.
//
// What the shared engine library (libtenantry_engine.so) exports: the public
// classes marked TENANTRY_API. Everything else is compiled with hidden
// visibility, so calls inside the library are direct (no PLT, no symbol
// interposition) and the library's dynamic symbol table is its public API.
#ifndef TENANTRY_EXPORT_H_
#define TENANTRY_EXPORT_H_

#if defined(__GNUC__) || defined(__clang__)
#define TENANTRY_API __attribute__((visibility("default")))
#else
#define TENANTRY_API
#endif

#endif  // TENANTRY_EXPORT_H_
