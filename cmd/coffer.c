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
 * "coffer NOUN VERB --help" prints the command's synopsis and its example (every row has one).
 * The same tables make the man page (coffer --help-man, roff for coffer(1)) and the shell completion
 * (coffer completion bash|zsh): src/cli/cli_doc.c.
 *
 * Every command is one row of `commands` below; the functions live in src/cli/cli_<noun>.c. */
#include "cli/cli.h"
#include <stdlib.h>
#include <string.h>

static int cli_completion(struct cli *c, int argc, char **argv);
static int cli_completion_zsh(struct cli *c, int argc, char **argv);

static const struct cli_command commands[] = {
    { "policy", "list", "", "list the protection policies",
      "coffer policy list", cli_policy_list },
    { "policy", "get", "ID", "show one policy",
      "coffer policy get 3839202852950422:742867524279233:1", cli_policy_get },
    { "policy", "create", "--name N [--retention-days D (30)] [--every-hours H (24)] [--description T]",
      "create a policy: a backup every H hours, kept D days",
      "coffer policy create --name daily --retention-days 30 --every-hours 24", cli_policy_create },
    { "policy", "update", "ID [--name N] [--retention-days D] [--every-hours H] [--description T]",
      "change a policy (what is not given stays as it is)",
      "coffer policy update 3839202852950422:742867524279233:1 --retention-days 90", cli_policy_update },
    { "policy", "delete", "ID", "delete a policy no group uses",
      "coffer policy delete 3839202852950422:742867524279233:1", cli_policy_delete },
    { "group", "list", "", "list the protection groups",
      "coffer group list", cli_group_list },
    { "group", "get", "ID", "show one group",
      "coffer group get 3839202852950422:742867524279233:1", cli_group_get },
    { "group", "create",
      "--name N --policy ID --source-object ID --path /x [--path /y ...] [--exclude /x/y ...] [--description T] "
      "[--allow-missing]",
      "protect files of a source object under a policy (a path missing on this machine, when the object's host "
      "is this machine, is refused unless --allow-missing)",
      "coffer group create --name home --policy 3839202852950422:742867524279233:1 "
                      "--source-object 1 --path /home --exclude /home/tmp", cli_group_create },
    { "group", "pause", "ID", "stop scheduled runs of a group",
      "coffer group pause 3839202852950422:742867524279233:1", cli_group_pause },
    { "group", "resume", "ID", "resume scheduled runs of a group",
      "coffer group resume 3839202852950422:742867524279233:1", cli_group_resume },
    { "group", "update",
      "ID [--name N] [--policy ID] [--description T] [--path /x ... (replaces the paths)] [--add-path /x ...] "
      "[--remove-path /x ...] [--exclude /x/y ...] [--allow-missing]",
      "change a group (what is not given stays as it is)",
      "coffer group update 3839202852950422:742867524279233:1 --add-path /srv/mail", cli_group_update },
    { "group", "delete", "ID [--delete-snapshots]",
      "delete a group (--delete-snapshots: its snapshots too, except those on legal hold)",
      "coffer group delete 3839202852950422:742867524279233:1 --delete-snapshots", cli_group_delete },
    { "source", "list", "", "list the registered sources",
      "coffer source list", cli_source_list },
    { "source", "register", "--endpoint HOST [--name N] [--host-type kLinux|kWindows]",
      "register a physical host",
      "coffer source register --endpoint 127.0.0.1 --host-type kLinux", cli_source_register },
    { "source", "delete", "ID", "unregister a source no group protects",
      "coffer source delete 1", cli_source_delete },
    { "object", "search", "[TEXT]", "find source objects (the ids groups protect)",
      "coffer object search 127.0.0.1", cli_object_search },
    { "connection", "list", "", "list the data-source connections",
      "coffer connection list", cli_connection_list },
    { "connection", "create", "NAME [--env-type T]", "create a data-source connection",
      "coffer connection create site-a", cli_connection_create },
    { "run", "start", "GROUP [--full] [--wait]",
      "start a run of a protection group now (--wait: follow it with a progress line)",
      "coffer run start 3839202852950422:742867524279233:1 --wait", cli_run_start },
    { "run", "list", "GROUP [--limit N (20)]", "list a group's runs, newest first",
      "coffer run list 3839202852950422:742867524279233:1 --limit 5", cli_run_list },
    { "run", "cancel", "GROUP RUN", "cancel a queued or running run (it stops at a safe point)",
      "coffer run cancel 3839202852950422:742867524279233:1 7:1796538192487579", cli_run_cancel },
    { "snapshot", "list", "OBJECT [--group ID] [--limit N (100)]",
      "list an object's snapshots, newest first, with the run and time of each",
      "coffer snapshot list 1", cli_snapshot_list },
    { "recovery", "list", "[--limit N (50)]", "list restores and downloads, newest first",
      "coffer recovery list", cli_recovery_list },
    { "recovery", "get", "ID", "show one restore or download, with its messages",
      "coffer recovery get 3839202852950422:742867524279233:4", cli_recovery_get },
    { "recovery", "cancel", "ID", "cancel a queued or running restore or download",
      "coffer recovery cancel 3839202852950422:742867524279233:4", cli_recovery_cancel },
    { "search", NULL, "TEXT [--type File|Directory|Symlink ...] [--group ID ...] [--limit N (100)]",
      "find backed-up files by name (or by path when TEXT has a '/'), in every snapshot",
      "coffer search report.pdf --type File", cli_search },
    { "restore", NULL, "--snapshot ID --path P [--path P ...] [--to DIR] [--overwrite] [--continue-on-error] "
      "[--host ID] [--name N] [--wait]",
      "restore files of a snapshot to their original paths (or under DIR)",
      "coffer restore --snapshot SNAPSHOT_ID --path /home/a/report.pdf --to /tmp/restored --wait", cli_restore },
    { "prune", NULL, "[--dry-run] [--no-wait] [--timeout SECS (3600)]",
      "remove data no snapshot needs (--dry-run: only report what would go)",
      "coffer prune --dry-run", cli_prune },
    { "verify", NULL, "[--read-data [--subset N%]] [--no-wait] [--timeout SECS (86400)]",
      "check the repository (--read-data: re-read and re-hash the blobs, or a rotating N% of the packs)",
      "coffer verify --read-data --subset 10%", cli_verify },
    { "repo", "stats", "", "the repository's size, dedup, garbage, last prune and last verify",
      "coffer repo stats", cli_repo_stats },
    { "key", "create", "NAME --role R [--role R ...] [--cluster] [--expires-in-days D]",
      "create an API key of --tenant (or of the cluster) with roles Viewer, Operator, Admin, DataSecurity, Agent; "
      "its secret is printed once",
      "coffer --tenant acme key create backup-operator --role Operator --expires-in-days 90", cli_key_create },
    { "key", "list", "[--for-tenant T]", "list the API keys you may manage (never their secrets)",
      "coffer key list", cli_key_list },
    { "key", "revoke", "ID", "revoke an API key (refused from the next request on)",
      "coffer key revoke KEY_ID", cli_key_revoke },
    { "download", NULL, "--recovery ID -o FILE", "fetch a download recovery's archive (resumes a partial FILE)",
      "coffer download --recovery 3839202852950422:742867524279233:4 -o docs.tar", cli_download },
    { "download", "create", "--snapshot ID --path P [--path P ...] [--name N] [--wait] [--output FILE]",
      "make a download of files of a snapshot (--output: wait, then fetch it as a tar archive into FILE)",
      "coffer download create --snapshot SNAPSHOT_ID --path /home/a/docs --output docs.tar", cli_download_create },
    { "audit", NULL, "[--since 2h|2026-12-06T06:00:00Z] [--all-tenants] [--key-id ID] [--resource ID] [--route P] "
      "[--method M] "
      "[--status N] [--limit N (100)]", "the audit log, newest first (Admin keys)",
      "coffer audit --since 2h --status 401", cli_audit },
    { "completion", "bash", "", "print the bash completion script (installed as "
      "share/bash-completion/completions/coffer)", "coffer completion bash >~/.local/share/bash-completion/completions/coffer", cli_completion },
    { "completion", "zsh", "", "print the zsh completion script (installed as share/zsh/vendor-completions/_coffer)",
      "coffer completion zsh >~/.zfunc/_coffer", cli_completion_zsh },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

/* The global options: their words, their values' placeholders (NULL: a flag) and what they do. */
enum { G_URL, G_KEY, G_TENANT, G_CACERT, G_PIN, G_JSON };
static const struct cli_global globals[] = {
    [G_URL] = { "--url", "URL", "the service URL (else COFFER_URL, else " CLI_DEFAULT_URL ")" },
    [G_KEY] = { "--key", "KEY", "the API key (else COFFER_KEY, else the file " CLI_KEY_FILE ")" },
    [G_TENANT] = { "--tenant", "ID", "the tenant (else COFFER_TENANT, else \"" CLI_DEFAULT_TENANT "\")" },
    [G_CACERT] = { "--cacert", "FILE", "https:// URLs: the CA file to verify the server with (else COFFER_CACERT)" },
    [G_PIN] = { "--pin", "sha256//...", "https:// URLs: the public-key pin cofferd printed at start (else COFFER_PIN)" },
    [G_JSON] = { "--json", NULL, "print the server's JSON instead of tables, and every error as one JSON object" },
    { NULL, NULL, NULL },
};

/* usage: the command list (only the noun's commands, with their examples, when noun is known). */
static void usage(FILE *f, const char *noun)
{
    char syn[512];
    fprintf(f, "usage: coffer");
    for (const struct cli_global *g = globals; g->name; g++)
        fprintf(f, " [%s%s%s]", g->name, g->value ? " " : "", g->value ? g->value : "");
    fprintf(f, " COMMAND\n\ncommands:\n");
    for (const struct cli_command *k = commands; k->noun; k++) {
        if (noun && strcmp(noun, k->noun) != 0) continue;
        cli_doc_synopsis(k, syn, sizeof syn);
        fprintf(f, "  coffer %s\n      %s\n", syn, k->help);
        if (noun) fprintf(f, "      example: %s\n", k->example);
    }
    if (!noun) cli_doc_environment(f);
}

/* command_help: "coffer NOUN VERB --help": the synopsis, what it does and an example. */
static void command_help(const struct cli_command *k)
{
    char syn[512];
    cli_doc_synopsis(k, syn, sizeof syn);
    printf("usage: coffer %s\n  %s\n\nexample:\n  %s\n", syn, k->help, k->example);
}

/* completion: prints the completion script gen makes from the tables above. */
static int completion(const char *shell, int (*gen)(FILE *, const struct cli_command *, const struct cli_global *),
                      int argc)
{
    if (argc != 0) return cli_error(CLI_USAGE, "coffer completion %s takes no arguments", shell);
    if (gen(stdout, commands, globals) != 0 || fflush(stdout) != 0)
        return cli_fail("cannot write the completion script");
    return CLI_OK;
}

/* cli_completion / cli_completion_zsh: "coffer completion bash" / "coffer completion zsh". */
static int cli_completion(struct cli *c, int argc, char **argv)
{
    (void)c;
    (void)argv;
    return completion("bash", cli_doc_bash, argc);
}

static int cli_completion_zsh(struct cli *c, int argc, char **argv)
{
    (void)c;
    (void)argv;
    return completion("zsh", cli_doc_zsh, argc);
}

static int noun_known(const char *noun)
{
    for (const struct cli_command *k = commands; k->noun; k++)
        if (strcmp(k->noun, noun) == 0) return 1;
    return 0;
}

static int is_help(const char *w) { return strcmp(w, "--help") == 0 || strcmp(w, "-h") == 0 || strcmp(w, "help") == 0; }

/* take_global: if argv[*i] is a global option, stores it, advances *i past its value, returns 1;
 * returns -1 on a global option without its value, 0 for any other word. */
static int take_global(int argc, char **argv, int *i, const char **url, const char **key, const char **tenant,
                       const char **cacert, const char **pin, int *json)
{
    const char **dest[] = { [G_URL] = url, [G_KEY] = key, [G_TENANT] = tenant, [G_CACERT] = cacert, [G_PIN] = pin };
    const char *w = argv[*i];
    for (size_t k = 0; globals[k].name; k++) {
        size_t n = strlen(globals[k].name);
        const char *val;
        if (strncmp(w, globals[k].name, n) != 0 || (w[n] != '\0' && w[n] != '=')) continue;
        if (!globals[k].value) { /* --json */
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
        *dest[k] = val;
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *key = NULL, *tenant = NULL, *cacert = NULL, *pin = NULL;
    const struct cli_command *cmd = NULL;
    struct cli c;
    char syn[512];
    char **words;
    int json = 0, nw = 0, rc, dashdash = 0;

    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("coffer %s\n", COFFER_VERSION);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--help-man") == 0) /* the man page coffer(1), for make */
        return cli_doc_man(stdout, commands, globals, COFFER_VERSION) == 0 && fflush(stdout) == 0 ? CLI_OK
                                                                                                 : CLI_FAIL;
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
        const struct cli_command *only = NULL;
        int rows = 0;
        for (const struct cli_command *k = commands; k->noun; k++)
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
    for (const struct cli_command *k = commands; k->noun && !cmd; k++)
        if (strcmp(k->noun, words[0]) == 0 && k->verb && nw > 1 && strcmp(k->verb, words[1]) == 0) cmd = k;
    for (const struct cli_command *k = commands; k->noun && !cmd; k++)
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
        if (cmd->fn == cli_completion || cmd->fn == cli_completion_zsh) { /* needs no server, no key */
            rc = cmd->fn(NULL, nw - skip, words + skip);
            free(words);
            return rc;
        }
        rc = cli_init(&c, url, key, tenant, cacert, pin, json);
        if (rc == CLI_OK) {
            cli_doc_synopsis(cmd, syn, sizeof syn);
            c.usage = syn;
            rc = cmd->fn(&c, nw - skip, words + skip);
        }
        cli_release(&c);
    }
    free(words);
    return rc;
}
