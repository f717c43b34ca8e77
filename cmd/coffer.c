/* coffer: the command-line client of cofferd's REST API (the data-protect v2 API).
 *
 *   coffer [--url URL] [--key KEY] [--tenant ID] [--cacert FILE] [--pin sha256//...] [--json]
 *          NOUN VERB [ARGS...]
 *
 * The global options may stand anywhere before "--"; the URL, key and tenant also come from
 * COFFER_URL (default http://127.0.0.1:8080/v2), COFFER_KEY (else the file ./var/admin.key) and
 * COFFER_TENANT (default "default"). An https:// URL is always verified: against libcurl's CA store,
 * the CA file --cacert (COFFER_CACERT), or the public-key pin --pin (COFFER_PIN) cofferd printed.
 * People get tables; --json prints the server's JSON as is, and every error as one JSON object on
 * stderr ({"error":{"message",...}}, cli_error).
 * Exit status: 0 done, 1 the server or the network refused (its message is printed), 2 usage.
 * "coffer NOUN VERB --help" prints the command's synopsis and an example (the examples table).
 *
 * Every command is one row of `commands` below; the functions live in src/cli/cli_<noun>.c. */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>

struct command {
    const char *noun;
    const char *verb; /* NULL: the noun is the whole command ("coffer search FILE") */
    const char *args; /* synopsis after "coffer noun verb" */
    const char *help;
    cli_fn fn;
};

static const struct command commands[] = {
    { "policy", "list", "", "list the protection policies", cli_policy_list },
    { "policy", "get", "ID", "show one policy", cli_policy_get },
    { "policy", "create", "--name N [--retention-days D (30)] [--every-hours H (24)] [--description T]",
      "create a policy: a backup every H hours, kept D days", cli_policy_create },
    { "policy", "update", "ID [--name N] [--retention-days D] [--every-hours H] [--description T]",
      "change a policy (what is not given stays as it is)", cli_policy_update },
    { "policy", "delete", "ID", "delete a policy no group uses", cli_policy_delete },
    { "group", "list", "", "list the protection groups", cli_group_list },
    { "group", "get", "ID", "show one group", cli_group_get },
    { "group", "create",
      "--name N --policy ID --source-object ID --path /x [--path /y ...] [--exclude /x/y ...] [--description T] "
      "[--allow-missing]",
      "protect files of a source object under a policy (a path missing on this machine, when the object's host "
      "is this machine, is refused unless --allow-missing)", cli_group_create },
    { "group", "pause", "ID", "stop scheduled runs of a group", cli_group_pause },
    { "group", "resume", "ID", "resume scheduled runs of a group", cli_group_resume },
    { "group", "update",
      "ID [--name N] [--policy ID] [--description T] [--path /x ... (replaces the paths)] [--add-path /x ...] "
      "[--remove-path /x ...] [--exclude /x/y ...] [--allow-missing]",
      "change a group (what is not given stays as it is)", cli_group_update },
    { "group", "delete", "ID [--delete-snapshots]",
      "delete a group (--delete-snapshots: its snapshots too, except those on legal hold)", cli_group_delete },
    { "source", "list", "", "list the registered sources", cli_source_list },
    { "source", "register", "--endpoint HOST [--name N] [--host-type kLinux|kWindows]",
      "register a physical host", cli_source_register },
    { "source", "delete", "ID", "unregister a source no group protects", cli_source_delete },
    { "object", "search", "[TEXT]", "find source objects (the ids groups protect)", cli_object_search },
    { "connection", "list", "", "list the data-source connections", cli_connection_list },
    { "connection", "create", "NAME [--env-type T]", "create a data-source connection", cli_connection_create },
    { "run", "start", "GROUP [--full] [--wait]",
      "start a run of a protection group now (--wait: follow it with a progress line)", cli_run_start },
    { "run", "list", "GROUP [--limit N (20)]", "list a group's runs, newest first", cli_run_list },
    { "run", "cancel", "GROUP RUN", "cancel a queued or running run (it stops at a safe point)", cli_run_cancel },
    { "snapshot", "list", "OBJECT [--group ID] [--limit N (100)]",
      "list an object's snapshots, newest first, with the run and time of each", cli_snapshot_list },
    { "recovery", "list", "[--limit N (50)]", "list restores and downloads, newest first", cli_recovery_list },
    { "recovery", "get", "ID", "show one restore or download, with its messages", cli_recovery_get },
    { "recovery", "cancel", "ID", "cancel a queued or running restore or download", cli_recovery_cancel },
    { "search", NULL, "TEXT [--type File|Directory|Symlink ...] [--group ID ...] [--limit N (100)]",
      "find backed-up files by name (or by path when TEXT has a '/'), in every snapshot", cli_search },
    { "restore", NULL, "--snapshot ID --path P [--path P ...] [--to DIR] [--overwrite] [--continue-on-error] "
      "[--host ID] [--name N] [--wait]",
      "restore files of a snapshot to their original paths (or under DIR)", cli_restore },
    { "prune", NULL, "[--dry-run] [--no-wait] [--timeout SECS (3600)]",
      "remove data no snapshot needs (--dry-run: only report what would go)", cli_prune },
    { "verify", NULL, "[--read-data [--subset N%]] [--no-wait] [--timeout SECS (86400)]",
      "check the repository (--read-data: re-read and re-hash the blobs, or a rotating N% of the packs)",
      cli_verify },
    { "repo", "stats", "", "the repository's size, dedup, garbage, last prune and last verify", cli_repo_stats },
    { "key", "create", "NAME --role R [--role R ...] [--cluster] [--expires-in-days D]",
      "create an API key of --tenant (or of the cluster) with roles Viewer, Operator, Admin, DataSecurity, Agent; "
      "its secret is printed once", cli_key_create },
    { "key", "list", "[--for-tenant T]", "list the API keys you may manage (never their secrets)", cli_key_list },
    { "key", "revoke", "ID", "revoke an API key (refused from the next request on)", cli_key_revoke },
    { "download", NULL, "--recovery ID -o FILE", "fetch a download recovery's archive (resumes a partial FILE)",
      cli_download },
    { "download", "create", "--snapshot ID --path P [--path P ...] [--name N] [--wait] [--output FILE]",
      "make a download of files of a snapshot (--output: wait, then fetch it as a tar archive into FILE)",
      cli_download_create },
    { "audit", NULL, "[--since 2h|2026-12-06T06:00:00Z] [--all-tenants] [--key ID] [--resource ID] [--route P] "
      "[--method M] "
      "[--status N] [--limit N (100)]", "the audit log, newest first (Admin keys)", cli_audit },
    { NULL, NULL, NULL, NULL, NULL },
};

/* One example per command, shown by "coffer NOUN VERB --help" (a command without a row shows none). */
static const struct {
    const char *command; /* "noun verb", or the noun of a whole command */
    const char *example;
} examples[] = {
    { "policy list", "coffer policy list" },
    { "policy get", "coffer policy get 3839202852950422:742867524279233:1" },
    { "policy create", "coffer policy create --name daily --retention-days 30 --every-hours 24" },
    { "policy update", "coffer policy update 3839202852950422:742867524279233:1 --retention-days 90" },
    { "policy delete", "coffer policy delete 3839202852950422:742867524279233:1" },
    { "group list", "coffer group list" },
    { "group get", "coffer group get 3839202852950422:742867524279233:1" },
    { "group create", "coffer group create --name home --policy 3839202852950422:742867524279233:1 "
                      "--source-object 1 --path /home --exclude /home/tmp" },
    { "group pause", "coffer group pause 3839202852950422:742867524279233:1" },
    { "group resume", "coffer group resume 3839202852950422:742867524279233:1" },
    { "group update", "coffer group update 3839202852950422:742867524279233:1 --add-path /srv/mail" },
    { "group delete", "coffer group delete 3839202852950422:742867524279233:1 --delete-snapshots" },
    { "source list", "coffer source list" },
    { "source register", "coffer source register --endpoint 127.0.0.1 --host-type kLinux" },
    { "source delete", "coffer source delete 1" },
    { "object search", "coffer object search 127.0.0.1" },
    { "connection list", "coffer connection list" },
    { "connection create", "coffer connection create site-a" },
    { "run start", "coffer run start 3839202852950422:742867524279233:1 --wait" },
    { "run list", "coffer run list 3839202852950422:742867524279233:1 --limit 5" },
    { "run cancel", "coffer run cancel 3839202852950422:742867524279233:1 7:1796538192487579" },
    { "snapshot list", "coffer snapshot list 1" },
    { "recovery list", "coffer recovery list" },
    { "recovery get", "coffer recovery get 3839202852950422:742867524279233:4" },
    { "recovery cancel", "coffer recovery cancel 3839202852950422:742867524279233:4" },
    { "search", "coffer search report.pdf --type File" },
    { "restore", "coffer restore --snapshot SNAPSHOT_ID --path /home/a/report.pdf --to /tmp/restored --wait" },
    { "prune", "coffer prune --dry-run" },
    { "verify", "coffer verify --read-data --subset 10%" },
    { "repo stats", "coffer repo stats" },
    { "download", "coffer download --recovery 3839202852950422:742867524279233:4 -o docs.tar" },
    { "download create", "coffer download create --snapshot SNAPSHOT_ID --path /home/a/docs --output docs.tar" },
    { "key create", "coffer --tenant acme key create backup-operator --role Operator --expires-in-days 90" },
    { "key list", "coffer key list" },
    { "key revoke", "coffer key revoke KEY_ID" },
    { "audit", "coffer audit --since 2h --status 401" },
};

static const char *example_of(const struct command *k)
{
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", k->noun, k->verb ? " " : "", k->verb ? k->verb : "");
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
        if (strcmp(examples[i].command, name) == 0) return examples[i].example;
    return NULL;
}

static void synopsis(const struct command *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", k->noun, k->verb ? " " : "", k->verb ? k->verb : "",
             k->args[0] ? " " : "", k->args);
}

/* usage: the command list (only the noun's commands when noun is known). */
static void usage(FILE *f, const char *noun)
{
    char syn[512];
    fprintf(f, "usage: coffer [--url URL] [--key KEY] [--tenant ID] [--cacert FILE] [--pin sha256//...] [--json] "
               "COMMAND\n\ncommands:\n");
    for (const struct command *k = commands; k->noun; k++) {
        if (noun && strcmp(noun, k->noun) != 0) continue;
        synopsis(k, syn, sizeof syn);
        fprintf(f, "  coffer %s\n      %s\n", syn, k->help);
        if (noun && example_of(k)) fprintf(f, "      example: %s\n", example_of(k));
    }
    if (!noun)
        fprintf(f, "\nenvironment: COFFER_URL (default %s), COFFER_KEY (default: the file %s),\n"
                   "             COFFER_TENANT (default \"%s\"), COFFER_CACERT, COFFER_PIN (https:// URLs: the\n"
                   "             CA file to verify with, the public-key pin cofferd printed at start)\n"
                   "exit status: 0 done, 1 refused by the server or unreachable, 2 usage error\n",
                CLI_DEFAULT_URL, CLI_KEY_FILE, CLI_DEFAULT_TENANT);
}

/* command_help: "coffer NOUN VERB --help": the synopsis, what it does and an example. */
static void command_help(const struct command *k)
{
    char syn[512];
    const char *ex = example_of(k);
    synopsis(k, syn, sizeof syn);
    printf("usage: coffer %s\n  %s\n", syn, k->help);
    if (ex) printf("\nexample:\n  %s\n", ex);
}

static int noun_known(const char *noun)
{
    for (const struct command *k = commands; k->noun; k++)
        if (strcmp(k->noun, noun) == 0) return 1;
    return 0;
}

static int is_help(const char *w) { return strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0 || strcmp(w, "help") == 0; }

/* take_global: if argv[*i] is a global option, stores it, advances *i past its value, returns 1;
 * returns -1 on a global option without its value, 0 for any other word. */
static int take_global(int argc, char **argv, int *i, const char **url, const char **key, const char **tenant,
                       const char **cacert, const char **pin, int *json)
{
    static const struct { const char *name; int which; } g[] = {
        { "--url", 0 }, { "--key", 1 }, { "--tenant", 2 }, { "--json", 3 }, { "--cacert", 4 }, { "--pin", 5 },
    };
    const char *w = argv[*i];
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        size_t n = strlen(g[k].name);
        const char *val;
        if (strncmp(w, g[k].name, n) != 0 || (w[n] != '\0' && w[n] != '=')) continue;
        if (g[k].which == 3) {
            if (w[n] == '=') return -1;
            *json = 1;
            return 1;
        }
        if (w[n] == '=') {
            val = w + n + 1;
        } else {
            if (*i + 1 >= argc) return -1;
            val = argv[++*i];
        }
        if (g[k].which == 0) *url = val;
        else if (g[k].which == 1) *key = val;
        else if (g[k].which == 4) *cacert = val;
        else if (g[k].which == 5) *pin = val;
        else *tenant = val;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *key = NULL, *tenant = NULL, *cacert = NULL, *pin = NULL;
    const struct command *cmd = NULL;
    struct cli c;
    char syn[512];
    char **words;
    int json = 0, nw = 0, rc, dashdash = 0;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("coffer %s\n", COFFER_VERSION);
        return 0;
    }
    cli_locale_init();
    /* --json anywhere before "--" makes every error one JSON object, even a mistake in the options */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0) cli_errors_json(1);
    /* Take the global options out wherever they stand; the rest is the command. */
    words = calloc((size_t)argc + 1, sizeof *words);
    if (!words) return cli_fail("out of memory");
    for (int i = 1; i < argc; i++) {
        int g = dashdash ? 0 : take_global(argc, argv, &i, &url, &key, &tenant, &cacert, &pin, &json);
        if (g < 0) {
            cli_error(CLI_USAGE, "option %s needs a value (or takes none)", argv[i]);
            free(words);
            return CLI_USAGE;
        }
        if (g == 0) {
            if (strcmp(argv[i], "--") == 0) dashdash = 1;
            words[nw++] = argv[i];
        }
    }
    if (nw == 0 || is_help(words[0])) {
        int asked = nw > 0;
        if (!asked && json) {
            cli_error(CLI_USAGE, "no command given (coffer --help lists them)");
            free(words);
            return CLI_USAGE;
        }
        const char *noun = nw > 1 && noun_known(words[1]) ? words[1] : NULL;
        usage(asked ? stdout : stderr, noun);
        free(words);
        return asked ? CLI_OK : CLI_USAGE;
    }
    if (!noun_known(words[0])) {
        cli_error(CLI_USAGE, "unknown command '%s' (coffer --help lists the commands)", words[0]);
        if (!json) usage(stderr, NULL);
        free(words);
        return CLI_USAGE;
    }
    if (nw > 1 && is_help(words[1])) {
        const struct command *only = NULL;
        int rows = 0;
        for (const struct command *k = commands; k->noun; k++)
            if (strcmp(k->noun, words[0]) == 0) {
                only = k;
                rows++;
            }
        if (rows == 1) command_help(only); /* "coffer search --help": the one command */
        else usage(stdout, words[0]);
        free(words);
        return CLI_OK;
    }
    /* a row whose verb is the next word wins over the noun's whole-command row ("download create" vs
     * "download --recovery ID") */
    for (const struct command *k = commands; k->noun && !cmd; k++)
        if (strcmp(k->noun, words[0]) == 0 && k->verb && nw > 1 && strcmp(k->verb, words[1]) == 0) cmd = k;
    for (const struct command *k = commands; k->noun && !cmd; k++)
        if (strcmp(k->noun, words[0]) == 0 && !k->verb) cmd = k;
    if (!cmd) {
        if (nw > 1) cli_error(CLI_USAGE, "unknown command '%s %s' (coffer %s --help lists its commands)", words[0],
                              words[1], words[0]);
        else cli_error(CLI_USAGE, "'%s' needs a command (coffer %s --help lists them)", words[0], words[0]);
        if (!json) usage(stderr, words[0]);
        free(words);
        return CLI_USAGE;
    }
    {
        int skip = cmd->verb ? 2 : 1;
        /* "coffer policy get ID --help" shows the synopsis without talking to the server */
        for (int i = skip; i < nw && strcmp(words[i], "--") != 0; i++) {
            if (strcmp(words[i], "--help") == 0 || strcmp(words[i], "-h") == 0) {
                command_help(cmd);
                free(words);
                return CLI_OK;
            }
        }
        rc = cli_init(&c, url, key, tenant, cacert, pin, json);
        if (rc == CLI_OK) {
            synopsis(cmd, syn, sizeof syn);
            c.usage = syn;
            rc = cmd->fn(&c, nw - skip, words + skip);
        }
        cli_release(&c);
    }
    free(words);
    return rc;
}
