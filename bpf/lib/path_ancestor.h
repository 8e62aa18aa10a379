/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Renaming a directory moves every path below it, and path_rename fires for
 * the directory alone (PLATFORM.md): `mv ~/.local/share ~/.local/s` would take
 * ~/.local/share/keyrings out from under its rule, `mv /tmp/t ~/.config/app`
 * would put files where a rule on ~/.config/app/settings.json forbids writing.
 *
 * So userspace writes, for every proper ancestor directory A of an exact or
 * subtree file rule, an EG_PATH_ANCESTOR key (file domain, path A) whose
 * verdict per access kind is the strongest of the rules below A for that kind
 * (PolicyMaps.swift). A rename asks for that key once per side, with the kinds
 * that side needs: the moved directory is judged as if each rule below it were
 * renamed. Exact lookup of the path just matched, reusing its scan's hash: one
 * more hash lookup per rename side and no lookup anywhere else. The matcher
 * never sees these keys (the loaded marker's lengths leave them out), so opens
 * and execs pay nothing.
 */
#ifndef EG_LIB_PATH_ANCESTOR_H
#define EG_LIB_PATH_ANCESTOR_H

#include "path_enforce.h"

/*
 * Strengthens `v` with the rules below its path, for v->mask. Call right after
 * eg_decide on v's slot (s->full_hash is that path's hash); a path that did not
 * resolve was denied already.
 */
static __always_inline void eg_rules_below(struct eg_path_scratch *s, struct eg_path_verdict *v,
					   const struct eg_session *session)
{
	__u64 m;

	if (v->len <= 0 || v->d.reason == EG_REASON_NO_POLICY)
		return;
	m = eg_path_probe(v->mask, EG_PATH_ANCESTOR | ((__u32)v->slot << 8) | (EG_DOMAIN_FILE << 16),
			  session->policy_id, (__u32)v->len << 16, s->full_hash);
	if (!(m & EG_M_FOUND) || EG_M_VERDICT(m) <= v->d.verdict)
		return;
	v->d.verdict = EG_M_VERDICT(m);
	v->d.rule = EG_M_RULE(m);
	v->d.reason = EG_REASON_RULE;
}

#endif /* EG_LIB_PATH_ANCESTOR_H */
