// horaod: parse the configuration, run the daemon. Exit status: 0 after a
// graceful stop, 2 for a bad configuration, 1 when it cannot start or run.
#include <unistd.h>

#include <exception>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "horao/app/config.hpp"
#include "horao/app/daemon.hpp"

int main(int argc, char** argv) {
  namespace app = horao::app;
  const std::vector<std::string> args(argv + 1, argv + argc);
  std::map<std::string, std::string> environment;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string::npos) environment.emplace(entry.substr(0, eq), entry.substr(eq + 1));
  }

  try {
    app::config settings = app::parse_config(args, environment);
    if (settings.help) {
      std::cout << app::help_text();
      return 0;
    }
    if (settings.check_only) {
      for (const auto& [key, value] : app::describe(settings)) std::cout << key << '=' << value << '\n';
      return 0;
    }
    app::daemon horaod(std::move(settings));
    return horaod.run();
  } catch (const app::config_error& e) {
    std::cerr << "horaod: configuration error: " << e.what() << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "horaod: " << e.what() << '\n';
    return 1;
  }
}
