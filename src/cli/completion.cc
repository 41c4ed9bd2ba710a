#include "cli/completion.h"

#include <CLI/CLI.hpp>

#include <iostream>

namespace dc {

CompletionCommand::CompletionCommand(CLI::App& app) {
  command_ = app.add_subcommand("completion", "Print the shell completion script (bash or zsh)");
  command_->add_option("SHELL", shell_, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  command_->footer(
      "  source <(dcctl completion bash)        this shell only\n"
      "  dcctl completion zsh > ~/.zfunc/_dcctl  zsh, with ~/.zfunc on $fpath\n"
      "The Debian package installs both scripts already.");
}

bool CompletionCommand::parsed() const { return command_->parsed(); }

int CompletionCommand::run() const {
  const EmbeddedFile* script = find_embedded(completion_files(), shell_ == "zsh" ? "/_dcctl" : "/dcctl.bash");
  if (script == nullptr) {
    std::cerr << "dcctl: no completion script for '" << shell_ << "'; use bash or zsh\n";
    return 2;
  }
  std::cout << script->data;
  return std::cout.good() ? 0 : 1;
}

}  // namespace dc
