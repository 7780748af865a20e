/*
 * Included (gcc -include) into the linux-x64 glibc prebuild: binds the one
 * symbol whose default version is newer than glibc 2.17 to its old version,
 * so the addon loads on glibc 2.17 (RHEL 7 era) and later. arm64's oldest
 * glibc symbols are 2.17 already.
 */
#if defined(__x86_64__)
__asm__(".symver memcpy, memcpy@GLIBC_2.2.5");
#endif
