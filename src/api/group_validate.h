/* group_validate.h: the shape checks of a CreateProtectionGroup / UpdateProtectionGroup body, without
 * the catalog (whether the policy and the objects exist is the handler's check, inside its
 * transaction). On a problem the check fills resp with a 400 naming the field path and returns 0. */
#ifndef COFFER_API_GROUP_VALIDATE_H
#define COFFER_API_GROUP_VALIDATE_H
#include "api/api.h"
#include <stddef.h>
#include <stdint.h>

/* What the handler needs from a valid body; strings borrowed from the body, object_ids malloc'd. */
struct api_group_info {
    const char *name;
    const char *policy_id;
    const char *environment;     /* kPhysical or kSQL */
    int has_paused, is_paused;   /* isPaused, when sent */
    int has_mtime;               /* lastModifiedTimestampUsecs, when sent */
    int64_t mtime_usecs;
    int64_t *object_ids;         /* the objects named by the params, in order, no repeats */
    size_t nobjects;
    int objects_registered;      /* 1: each object must be a registered object of the tenant (kPhysical) */
    int objects_sql;             /* 1: each object must be a kInstance or kDatabase object of a kSQL
                                  * registration of the tenant (kSQL) */
    char objects_path[128];      /* e.g. "physicalParams.fileProtectionTypeParams.objects" */
};

/* api_group_validate: fills *info (release with api_group_info_release, also after a failure). */
int api_group_validate(struct api_resp *resp, json_t *body, struct api_group_info *info);
void api_group_info_release(struct api_group_info *info);
#endif
