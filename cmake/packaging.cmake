# Installation and the Debian package (`make install`, `make deb`; see
# docs/quickstart.md). The binaries go under CMAKE_INSTALL_PREFIX; the
# configuration always to /etc/strata and the data to /var/lib/strata, as a
# service's files are on Debian. packaging/postinst makes the strata user.
set(STRATA_SYSTEMD_UNIT_DIR "/etc/systemd/system" CACHE PATH
    "Where the stratad.service unit is installed (/lib/systemd/system for the package)")
set(STRATA_BINDIR "${CMAKE_INSTALL_FULL_BINDIR}")
configure_file(${PROJECT_SOURCE_DIR}/packaging/stratad.service.in
               ${CMAKE_CURRENT_BINARY_DIR}/packaging/stratad.service @ONLY)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/strata.yaml DESTINATION /etc/strata)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/packaging/stratad.service DESTINATION ${STRATA_SYSTEMD_UNIT_DIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME strata)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Strata developers <strata@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kafka-compatible distributed log broker")
set(CPACK_PACKAGE_DESCRIPTION "stratad speaks Kafka's wire protocol, so that Kafka clients work against it \
unmodified, and keeps its metadata in an embedded Raft quorum; strata is its admin tool.")
set(CPACK_PACKAGE_FILE_NAME "strata_${PROJECT_VERSION}_amd64")
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
# The shared libraries' packages (librocksdb7.8, libspdlog1.10, ...), found by
# dpkg-shlibdeps from the binaries themselves; useradd is in passwd.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "passwd")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/prerm
    ${PROJECT_SOURCE_DIR}/packaging/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR})
include(CPack)
