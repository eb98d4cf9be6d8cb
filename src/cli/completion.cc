// strata completion bash|zsh: shell completion generated from the command
// tree itself, so that it cannot drift from the commands.
#include <iostream>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "commands.h"
#include "common.h"

namespace strata::cli {

namespace {

void collect(const CLI::App* app, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
    std::string words;
    for (const auto* sub : app->get_subcommands({})) words += sub->get_name() + " ";
    for (const auto* opt : app->get_options()) {
        if (opt->get_positional()) continue;
        for (const auto& l : opt->get_lnames()) words += "--" + l + " ";
        for (const auto& s : opt->get_snames()) words += "-" + s + " ";
    }
    if (!words.empty()) words.pop_back();
    out.emplace_back(path, words);
    for (const auto* sub : app->get_subcommands({}))
        collect(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name(), out);
}

std::string bash_script(const CLI::App& root) {
    std::vector<std::pair<std::string, std::string>> table;
    collect(&root, "", table);
    std::string cases;
    std::string subcommand_cases;
    for (const auto& [path, words] : table) {
        cases += fmt::format("        \"{}\") opts=\"{}\" ;;\n", path, words);
    }
    // Which words are subcommands of which path.
    std::function<void(const CLI::App*, const std::string&)> subs = [&](const CLI::App* app, const std::string& path) {
        std::string names;
        for (const auto* sub : app->get_subcommands({})) names += sub->get_name() + "|";
        if (!names.empty()) {
            names.pop_back();
            subcommand_cases += fmt::format(
                "            \"{}\") case \"$w\" in {}) path=\"${{path:+$path }}$w\" ;; esac ;;\n", path, names);
        }
        for (const auto* sub : app->get_subcommands({}))
            subs(sub, path.empty() ? sub->get_name() : path + " " + sub->get_name());
    };
    subs(&root, "");
    return fmt::format(R"(# bash completion for strata. Load it with:
#   source <(strata completion bash)
_strata() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}"
    local path="" w i opts
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case "$path" in
{}        esac
    done
    case "$path" in
{}        *) opts="" ;;
    esac
    # Options only once a dash is typed; subcommands otherwise.
    if [[ "$cur" != -* ]]; then opts=" $opts"; opts="${{opts%% -*}}"; fi
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -o default -F _strata strata
)",
                       subcommand_cases, cases);
}

std::string zsh_script(const CLI::App& root) {
    return "#compdef strata\n# zsh completion for strata. Load it with:\n#   source <(strata completion zsh)\n"
           "autoload -U +X bashcompinit && bashcompinit\n" +
           bash_script(root);
}

}  // namespace

void add_completion_command(CLI::App& app) {
    auto shell = std::make_shared<std::string>();
    auto* c = app.add_subcommand("completion", "Print a shell completion script (bash or zsh)");
    c->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
    c->footer("Examples:\n  source <(strata completion bash)\n  strata completion zsh > \"${fpath[1]}/_strata\"");
    const CLI::App* root = &app;
    c->callback([shell, root] { std::cout << (*shell == "bash" ? bash_script(*root) : zsh_script(*root)); });
}

}  // namespace strata::cli
