# Runs at `cmake --install` time (install(SCRIPT) in the top CMakeLists.txt):
# installs the systemd unit and the environment file for the prefix chosen
# then, which may differ from the one the build was configured with
# (`cmake --install build --prefix /usr`).
#
# * The unit's paths follow the prefix: ExecStart names the installed binary,
#   EnvironmentFile= and --env-file the installed environment file. With the
#   prefix /usr the configuration goes to /etc/horao (the FHS place, and what
#   config/horaod.service says); with any other prefix to <prefix>/etc/horao.
# * The environment file is the operator's configuration: an existing
#   horaod.env is never overwritten (an upgrade keeps the settings); the
#   commented defaults always land next to it as horaod.env.example.
#
# Inputs (set by install(CODE) just before): HORAO_SOURCE_DIR,
# HORAO_BINARY_DIR, HORAO_SBINDIR (relative to the prefix).

set(_prefix "${CMAKE_INSTALL_PREFIX}")
if(_prefix STREQUAL "/usr")
  set(_etc "/etc/horao")
else()
  set(_etc "${_prefix}/etc/horao")
endif()
set(_binary "${_prefix}/${HORAO_SBINDIR}/horaod")

file(READ "${HORAO_SOURCE_DIR}/config/horaod.service" _unit)
string(REPLACE "/usr/sbin/horaod" "${_binary}" _unit "${_unit}")
string(REPLACE "/etc/horao" "${_etc}" _unit "${_unit}")
set(_staged "${HORAO_BINARY_DIR}/install-staging")
file(MAKE_DIRECTORY "${_staged}")
file(WRITE "${_staged}/horaod.service" "${_unit}")
# file(INSTALL) prepends $DESTDIR to these absolute destinations itself.
file(INSTALL "${_staged}/horaod.service" DESTINATION "${_prefix}/lib/systemd/system")

file(INSTALL "${HORAO_SOURCE_DIR}/config/horaod.env" DESTINATION "${_etc}" RENAME horaod.env.example)
if(EXISTS "$ENV{DESTDIR}${_etc}/horaod.env")
  message(STATUS "Keeping: $ENV{DESTDIR}${_etc}/horaod.env (the shipped defaults are in horaod.env.example)")
else()
  file(INSTALL "${HORAO_SOURCE_DIR}/config/horaod.env" DESTINATION "${_etc}")
endif()
