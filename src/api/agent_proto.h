/* agent_proto.h: the agent protocol on cofferd (agent_proto.c, docs/agent-protocol.md): what other
 * API modules need of it. */
#ifndef COFFER_API_AGENT_PROTO_H
#define COFFER_API_AGENT_PROTO_H
#include "api/api.h"
#include <stdint.h>

struct cat_agent;

/* api_agent_heartbeat_secs: how often agents are asked to send a heartbeat (COFFER_AGENT_HEARTBEAT_SECS,
 * 1..3600, default 30). */
int api_agent_heartbeat_secs(void);
/* api_agent_connected: whether an agent last heard from at last_seen_usecs counts as connected at now
 * (within three heartbeat intervals). */
int api_agent_connected(int64_t last_seen_usecs, int64_t now_usecs);
/* api_agent_of: the agent whose credential signed req (unrevoked, of the key's tenant) into *out
 * (cat_agent_release); -1 after answering 404 (no agent has this key) or 500. */
int api_agent_of(struct api_req *req, struct api_resp *resp, struct cat_agent *out);
#endif
