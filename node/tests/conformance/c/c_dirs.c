/* Directories, names and the process through wasi-libc: mkdir, readdir,
 * rename, unlink, rmdir, symlink and link refused, `..` past the top,
 * argv and the environment. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static int count_entries(const char *path) {
    DIR *dir = opendir(path);
    if (!dir) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    }
    closedir(dir);
    return n;
}

static int touch(const char *path) {
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

int main(int argc, char **argv) {
    check("argv", argc == 3 && !strcmp(argv[1], "alpha") && !strcmp(argv[2], "beta gamma"));
    const char *mode = getenv("MODE");
    check("getenv", mode && !strcmp(mode, "strict") && !getenv("HOME") && !getenv("PATH"));

    check("mkdir", mkdir("/workspace/d", 0755) == 0);
    check("mkdir of an existing directory is EEXIST", fails_with(mkdir("/workspace/d", 0755), EEXIST));
    int made = 1;
    char name[64];
    for (int i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "/workspace/d/file-%03d", i);
        made &= touch(name);
    }
    check("readdir lists 200 entries", made && count_entries("/workspace/d") == 200);
    check("readdir of the tree", count_entries("/workspace/tree") == 2);
    check("rename", rename("/workspace/d/file-000", "/workspace/moved") == 0 && access("/workspace/moved", F_OK) == 0);
    check("unlink", unlink("/workspace/moved") == 0 && fails_with(access("/workspace/moved", F_OK), ENOENT));
    check("rmdir of a non-empty directory is ENOTEMPTY", fails_with(rmdir("/workspace/d"), ENOTEMPTY));
    check("rmdir of an empty directory", mkdir("/workspace/e", 0755) == 0 && rmdir("/workspace/e") == 0);
    check("symlink is EPERM", fails_with(symlink("tree", "/workspace/alias"), EPERM));
    check("link is EPERM", fails_with(link("/workspace/tree/a", "/workspace/twin"), EPERM));
    check("`..` past the top is EPERM", fails_with(open("/workspace/../../etc/passwd", O_RDONLY), EPERM));
    check("/etc/passwd is not there", open("/etc/passwd", O_RDONLY) == -1);
    return failures;
}
