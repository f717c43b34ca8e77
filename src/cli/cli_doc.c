/* cli_doc.c: what is generated from the CLI's command table (cmd/coffer.c): the bash and zsh completion
 * scripts (coffer completion bash|zsh: one body of shell code both shells run, with a head and a tail
 * of each's own) and the man page coffer(1) in roff (coffer --help-man).
 *
 * A command's options are read from its synopsis (struct cli_command.args), the same text --help
 * shows: a word starting with '-' after a space or '[' is an option; the next word is its value's
 * placeholder unless the option's word closes with ']' or the next word opens an option ('[', '-') or
 * a remark ('('). The placeholder says what to complete: "A|B|C" (letters and digits only) its
 * choices, FILE or a /path files, DIR directories, anything else nothing. The environment and exit
 * status text is one table here, printed by --help (cli_doc_environment) and by the man page. */
#include "cli/cli.h"
#include <ctype.h>
#include <string.h>

static const struct {
    const char *name, *text;
} doc_env[] = {
    { "COFFER_URL", "the service URL (default " CLI_DEFAULT_URL ")" },
    { "COFFER_KEY", "the API key (default: the file " CLI_KEY_FILE ")" },
    { "COFFER_TENANT", "the tenant id (default \"" CLI_DEFAULT_TENANT "\")" },
    { "COFFER_CACERT", "https:// URLs: the CA file to verify the server with" },
    { "COFFER_PIN", "https:// URLs: the public-key pin cofferd printed at start (sha256//...)" },
};
static const char doc_exit[] = "0 done, 1 refused by the server or unreachable, 2 usage error";

void cli_doc_environment(FILE *f)
{
    fprintf(f, "\nenvironment:\n");
    for (size_t i = 0; i < sizeof doc_env / sizeof doc_env[0]; i++)
        fprintf(f, "  %-14s %s\n", doc_env[i].name, doc_env[i].text);
    fprintf(f, "exit status: %s\n", doc_exit);
}

void cli_doc_synopsis(const struct cli_command *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s%s%s", k->noun, k->verb ? " " : "", k->verb ? k->verb : "",
             k->args[0] ? " " : "", k->args);
}

/* one word of a synopsis: [start, start+len) */
struct doc_word {
    const char *s;
    size_t n;
};

static size_t doc_words(const char *args, struct doc_word *w, size_t max)
{
    size_t n = 0;
    for (const char *p = args; *p && n < max;) {
        while (*p == ' ') p++;
        if (!*p) break;
        w[n].s = p;
        while (*p && *p != ' ') p++;
        w[n].n = (size_t)(p - w[n].s);
        n++;
    }
    return n;
}

void cli_doc_options(const struct cli_command *k, void (*fn)(const char *name, const char *value, void *arg),
                     void *arg)
{
    struct doc_word w[128];
    char seen[2048] = " ";
    size_t n = doc_words(k->args, w, sizeof w / sizeof w[0]);
    for (size_t i = 0; i < n; i++) {
        const char *s = w[i].s, *end = w[i].s + w[i].n;
        char name[64], value[128], key[70];
        const char *v = NULL;
        size_t nl;
        while (s < end && *s == '[') s++;
        if (end - s < 2 || s[0] != '-' || !isalpha((unsigned char)s[s[1] == '-' ? 2 : 1])) continue;
        nl = 0;
        while (s + nl < end && s[nl] != ']' && s[nl] != '=') nl++;
        if (nl >= sizeof name) continue;
        memcpy(name, s, nl);
        name[nl] = '\0';
        if (s + nl == end && i + 1 < n && w[i + 1].s[0] != '[' && w[i + 1].s[0] != '-' && w[i + 1].s[0] != '(' &&
            strncmp(w[i + 1].s, "...", 3) != 0) {
            size_t vl = w[i + 1].n;
            while (vl > 0 && w[i + 1].s[vl - 1] == ']') vl--;
            if (vl > 0 && vl < sizeof value) {
                memcpy(value, w[i + 1].s, vl);
                value[vl] = '\0';
                v = value;
            }
        }
        snprintf(key, sizeof key, " %s ", name); /* seen is " a b c ": one option once */
        if (strstr(seen, key)) continue;
        if (strlen(seen) + strlen(key) < sizeof seen) strcat(seen, key + 1);
        fn(name, v, arg);
    }
}

/* ---- shell completion (bash, zsh) ---- */

/* doc_choices: 1 when v is "A|B[|C...]" of letters and digits only (the words to offer). */
static int doc_choices(const char *v)
{
    int bars = 0;
    if (!v || !*v || *v == '|') return 0;
    for (const char *p = v; *p; p++) {
        if (*p == '|') {
            if (p[1] == '|' || p[1] == '\0') return 0;
            bars++;
        } else if (!isalnum((unsigned char)*p)) {
            return 0;
        }
    }
    return bars > 0;
}

/* doc_value_action: the bash code completing an option's value (after "COMPREPLY=..."), by placeholder. */
static void doc_value_action(FILE *f, const char *v)
{
    if (doc_choices(v)) {
        fputs("_coffer_words '", f);
        for (const char *p = v; *p; p++) fputc(*p == '|' ? ' ' : *p, f);
        fputs("'; return 0 ;;\n", f);
    } else if (strcmp(v, "FILE") == 0 || v[0] == '/') {
        fputs("_coffer_files -f; return 0 ;;\n", f);
    } else if (strcmp(v, "DIR") == 0) {
        fputs("_coffer_files -d; return 0 ;;\n", f);
    } else {
        fputs("return 0 ;;\n", f);
    }
}

struct doc_bash {
    FILE *f;
    const char *cmd; /* "noun verb" or "noun" */
    int values;      /* 1: print value cases, 0: print the option names */
};

static void doc_bash_opt(const char *name, const char *value, void *arg)
{
    struct doc_bash *b = arg;
    if (!b->values) {
        fprintf(b->f, " %s", name);
    } else if (value) {
        fprintf(b->f, "        '%s|%s') ", b->cmd, name);
        doc_value_action(b->f, value);
    }
}

static void doc_cmd_name(const struct cli_command *k, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s%s", k->noun, k->verb ? " " : "", k->verb ? k->verb : "");
}

/* doc_first_of_noun: 1 when k is the first row of its noun. */
static int doc_first_of_noun(const struct cli_command *cmds, const struct cli_command *k)
{
    for (const struct cli_command *j = cmds; j < k; j++)
        if (strcmp(j->noun, k->noun) == 0) return 0;
    return 1;
}

/* The parts of the completion script that differ by shell: the header and the helpers, the
 * function's start (cur, prev, the loop over the words before the cursor) and its registration. The
 * rest is the same code in both (case, [[ ]], (( ))), printed once by doc_completion. */
struct doc_shell {
    const char *head, *start, *end;
};
static const struct doc_shell doc_bash_shell = {
    "# bash completion for coffer(1), generated by `coffer completion bash` from the CLI's command table\n"
    "# (install as .../bash-completion/completions/coffer, or source it).\n"
    "_coffer_words() { mapfile -t COMPREPLY < <(compgen -W \"$1\" -- \"$cur\"); }\n"
    "_coffer_files() {\n"
    "    compopt -o filenames 2>/dev/null\n"
    "    mapfile -t COMPREPLY < <(compgen \"$1\" -- \"$cur\")\n"
    "}\n"
    "_coffer() {\n",
    "    local cur=${COMP_WORDS[COMP_CWORD]} prev= w noun= verb= cmd= i\n"
    "    COMPREPLY=()\n"
    "    (( COMP_CWORD > 0 )) && prev=${COMP_WORDS[COMP_CWORD-1]}\n"
    "    # the command's words: the first two that are neither a global option nor its value\n"
    "    for (( i = 1; i < COMP_CWORD; i++ )); do\n"
    "        w=${COMP_WORDS[i]}\n",
    "complete -F _coffer coffer\n",
};
static const struct doc_shell doc_zsh_shell = {
    "#compdef coffer\n"
    "# zsh completion for coffer(1), generated by `coffer completion zsh` from the CLI's command table\n"
    "# (install as _coffer in a directory of $fpath, e.g. .../zsh/vendor-completions/_coffer, or source it\n"
    "# after compinit).\n"
    "_coffer_words() { compadd -- ${=1}; }\n"
    "_coffer_files() { if [[ $1 == -d ]]; then _files -/; else _files; fi; }\n"
    "_coffer() {\n",
    "    local cur=${words[CURRENT]} prev=${words[CURRENT-1]} w noun= verb= cmd= i\n"
    "    # the command's words: the first two that are neither a global option nor its value\n"
    "    for (( i = 2; i < CURRENT; i++ )); do\n"
    "        w=${words[i]}\n",
    "if [[ $funcstack[1] == _coffer ]]; then _coffer \"$@\"; else compdef _coffer coffer; fi\n",
};

/* doc_completion: the completion script for sh (bash or zsh). */
static int doc_completion(FILE *f, const struct cli_command *cmds, const struct cli_global *globals,
                          const struct doc_shell *sh)
{
    char name[128];
    struct doc_bash b = { .f = f };
    fputs(sh->head, f);
    fputs(sh->start, f);
    fprintf(f, "        case $w in\n"
               "            ");
    {
        int any = 0;
        for (const struct cli_global *g = globals; g->name; g++)
            if (g->value) fprintf(f, "%s%s", any++ ? "|" : "", g->name);
        if (any) fprintf(f, ") (( i++ )) ;;\n            ");
    }
    fprintf(f, "-*) ;;\n"
               "            *) if [[ -z $noun ]]; then noun=$w; elif [[ -z $verb ]]; then verb=$w; fi ;;\n"
               "        esac\n"
               "    done\n"
               "    case \"$noun $verb\" in\n");
    for (const struct cli_command *k = cmds; k->noun; k++) {
        if (!k->verb) continue;
        fprintf(f, "        '%s %s') cmd=\"$noun $verb\" ;;\n", k->noun, k->verb);
    }
    fprintf(f, "        *) case $noun in\n");
    for (const struct cli_command *k = cmds; k->noun; k++)
        if (!k->verb) fprintf(f, "               %s) cmd=$noun ;;\n", k->noun);
    fprintf(f, "           esac ;;\n"
               "    esac\n"
               "    # the value of an option\n"
               "    case $prev in\n");
    for (const struct cli_global *g = globals; g->name; g++) {
        if (!g->value) continue;
        fprintf(f, "        %s) ", g->name);
        doc_value_action(f, g->value);
    }
    fprintf(f, "    esac\n"
               "    case \"$cmd|$prev\" in\n");
    b.values = 1;
    for (const struct cli_command *k = cmds; k->noun; k++) {
        doc_cmd_name(k, name, sizeof name);
        b.cmd = name;
        cli_doc_options(k, doc_bash_opt, &b);
    }
    fprintf(f, "    esac\n"
               "    if [[ -z $noun ]]; then\n"
               "        if [[ $cur == -* ]]; then\n"
               "            _coffer_words '");
    for (const struct cli_global *g = globals; g->name; g++) fprintf(f, "%s ", g->name);
    fprintf(f, "--help --version'\n"
               "        else\n"
               "            _coffer_words '");
    for (const struct cli_command *k = cmds; k->noun; k++)
        if (doc_first_of_noun(cmds, k)) fprintf(f, "%s%s", k == cmds ? "" : " ", k->noun);
    fprintf(f, " help'\n"
               "        fi\n"
               "        return 0\n"
               "    fi\n"
               "    # the second word: the noun's verbs (a noun that is a whole command takes options there too)\n"
               "    if [[ -z $verb && $cur != -* ]]; then\n"
               "        case $noun in\n");
    for (const struct cli_command *k = cmds; k->noun; k++) {
        int verbs = 0;
        if (!doc_first_of_noun(cmds, k)) continue;
        for (const struct cli_command *j = k; j->noun; j++)
            if (strcmp(j->noun, k->noun) == 0 && j->verb) {
                if (!verbs++) fprintf(f, "            %s) _coffer_words '", k->noun);
                else fputc(' ', f);
                fputs(j->verb, f);
            }
        if (verbs) fprintf(f, "' ;;\n");
    }
    fprintf(f, "        esac\n"
               "        return 0\n"
               "    fi\n"
               "    # an option of the command\n"
               "    if [[ $cur == -* ]]; then\n"
               "        case $cmd in\n");
    b.values = 0;
    for (const struct cli_command *k = cmds; k->noun; k++) {
        doc_cmd_name(k, name, sizeof name);
        fprintf(f, "            '%s') _coffer_words '--help", name);
        cli_doc_options(k, doc_bash_opt, &b);
        for (const struct cli_global *g = globals; g->name; g++) fprintf(f, " %s", g->name);
        fprintf(f, "' ;;\n");
    }
    fprintf(f, "        esac\n"
               "    fi\n"
               "    return 0\n"
               "}\n");
    fputs(sh->end, f);
    return ferror(f) ? -1 : 0;
}

int cli_doc_bash(FILE *f, const struct cli_command *cmds, const struct cli_global *globals)
{
    return doc_completion(f, cmds, globals, &doc_bash_shell);
}

int cli_doc_zsh(FILE *f, const struct cli_command *cmds, const struct cli_global *globals)
{
    return doc_completion(f, cmds, globals, &doc_zsh_shell);
}

/* ---- the man page ---- */

/* doc_roff: text escaped for roff: backslash as \e, '-' as \- (options stay copyable), a leading '.'
 * or '\'' protected with \&. */
static void doc_roff(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", f);
        else if (*s == '-') fputs("\\-", f);
        else fputc(*s, f);
    }
}

int cli_doc_man(FILE *f, const struct cli_command *cmds, const struct cli_global *globals, const char *version)
{
    char syn[512];
    fprintf(f, ".\\\" coffer(1), generated by `coffer --help-man` from the CLI's command table: do not edit\n"
               ".TH COFFER 1 \"\" \"coffer %s\" \"User Commands\"\n"
               ".SH NAME\n"
               "coffer \\- the command\\-line client of cofferd, the Coffer backup and recovery service\n"
               ".SH SYNOPSIS\n"
               ".B coffer\n",
            version);
    for (const struct cli_global *g = globals; g->name; g++) {
        fputs("[\\fB", f);
        doc_roff(f, g->name);
        fputs("\\fR", f);
        if (g->value) {
            fputs(" \\fI", f);
            doc_roff(f, g->value);
            fputs("\\fR", f);
        }
        fputs("]\n", f);
    }
    fprintf(f, ".I command\n"
               ".RI [ arguments ]\n"
               ".SH DESCRIPTION\n"
               "\\fBcoffer\\fR drives \\fBcofferd\\fR(8) through its REST API (the data\\-protect v2 API):\n"
               "policies, protection groups, sources, runs, snapshots, search, restores and downloads,\n"
               "repository upkeep, API keys and the audit log.\n"
               "People get tables; \\fB\\-\\-json\\fR prints the server's JSON as it is.\n"
               "\\fBcoffer\\fR \\fIcommand\\fR \\fB\\-\\-help\\fR shows one command's usage and an example.\n"
               ".SH OPTIONS\n"
               "The global options may stand anywhere before \\fB\\-\\-\\fR.\n");
    for (const struct cli_global *g = globals; g->name; g++) {
        fputs(".TP\n.B ", f);
        doc_roff(f, g->name);
        if (g->value) {
            fputs(" \\fI", f);
            doc_roff(f, g->value);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        doc_roff(f, g->help);
        fputc('\n', f);
    }
    fprintf(f, ".TP\n.B \\-\\-version\nprint the version and exit\n"
               ".TP\n.B \\-\\-help\nlist the commands (after a command: its usage and example)\n"
               ".SH COMMANDS\n");
    for (const struct cli_command *k = cmds; k->noun; k++) {
        fputs(".SS \"coffer ", f);
        doc_roff(f, k->noun);
        if (k->verb) {
            fputc(' ', f);
            doc_roff(f, k->verb);
        }
        fputs("\"\n", f);
        cli_doc_synopsis(k, syn, sizeof syn);
        fputs(".PP\n\\fBcoffer ", f);
        doc_roff(f, syn);
        fputs("\\fR\n.PP\n", f);
        doc_roff(f, k->help);
        fputc('\n', f);
        if (k->example) {
            fputs(".PP\nExample:\n.PP\n.RS 4\n.nf\n", f);
            doc_roff(f, k->example);
            fputs("\n.fi\n.RE\n", f);
        }
    }
    fprintf(f, ".SH ENVIRONMENT\n");
    for (size_t i = 0; i < sizeof doc_env / sizeof doc_env[0]; i++) {
        fputs(".TP\n.B ", f);
        doc_roff(f, doc_env[i].name);
        fputc('\n', f);
        doc_roff(f, doc_env[i].text);
        fputc('\n', f);
    }
    fprintf(f, ".SH FILES\n"
               ".TP\n.I ");
    doc_roff(f, CLI_KEY_FILE);
    fprintf(f, "\nthe admin API key cofferd made on first start, used when no key is given\n"
               ".SH \"EXIT STATUS\"\n");
    doc_roff(f, doc_exit);
    fprintf(f, ".\n.SH \"SEE ALSO\"\n"
               ".BR cofferd (8)\n");
    return ferror(f) ? -1 : 0;
}
