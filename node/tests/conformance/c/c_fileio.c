/* File I/O through wasi-libc: open flags, lseek, pread/pwrite, ftruncate,
 * fstat/stat. Files go in /workspace; given.txt comes from the tree. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static int contents_are(const char *path, const char *want) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n) == 0;
}

int main(void) {
    check("O_CREAT|O_EXCL on an existing file is EEXIST",
          fails_with(open("/workspace/given.txt", O_CREAT | O_EXCL | O_WRONLY, 0644), EEXIST));
    int fd = open("/workspace/new", O_CREAT | O_EXCL | O_WRONLY, 0644);
    check("O_CREAT|O_EXCL creates", fd >= 0 && write(fd, "0123456789", 10) == 10);
    close(fd);
    check("a missing file is ENOENT", fails_with(open("/workspace/none", O_RDONLY), ENOENT));
    check("O_DIRECTORY on a file is ENOTDIR",
          fails_with(open("/workspace/new", O_RDONLY | O_DIRECTORY), ENOTDIR));
    fd = open("/workspace/given.txt", O_WRONLY | O_APPEND);
    check("O_APPEND writes at the end",
          fd >= 0 && write(fd, "+", 1) == 1 && contents_are("/workspace/given.txt", "given\n+"));
    close(fd);
    fd = open("/workspace/given.txt", O_WRONLY | O_TRUNC);
    check("O_TRUNC empties", fd >= 0 && contents_are("/workspace/given.txt", ""));
    close(fd);

    fd = open("/workspace/new", O_RDWR);
    char two[3] = {0};
    check("lseek SEEK_SET", lseek(fd, 3, SEEK_SET) == 3 && read(fd, two, 2) == 2 && !strcmp(two, "34"));
    check("lseek SEEK_CUR", lseek(fd, 2, SEEK_CUR) == 7);
    check("lseek SEEK_END", lseek(fd, -1, SEEK_END) == 9 && read(fd, two, 1) == 1 && two[0] == '9');
    check("pwrite at an offset", pwrite(fd, "XY", 2, 4) == 2 && lseek(fd, 0, SEEK_CUR) == 10);
    char four[5] = {0};
    check("pread at an offset", pread(fd, four, 4, 3) == 4 && !strcmp(four, "3XY6"));
    check("ftruncate shrinks", ftruncate(fd, 5) == 0 && contents_are("/workspace/new", "0123X"));
    struct stat st;
    check("ftruncate grows, fstat sees it", ftruncate(fd, 8) == 0 && fstat(fd, &st) == 0 && st.st_size == 8);
    close(fd);
    check("stat of a file", stat("/workspace/new", &st) == 0 && S_ISREG(st.st_mode));
    check("stat of a directory", stat("/workspace", &st) == 0 && S_ISDIR(st.st_mode));
    check("write to a read-only descriptor is EBADF",
          (fd = open("/workspace/new", O_RDONLY)) >= 0 && fails_with(write(fd, "x", 1), EBADF));
    close(fd);
    return failures;
}
