#!/usr/bin/python3
"""The dashboard in headless Chromium, against real `nexus` processes.

1. A `nexus up` node: sign in with the admin key, see a docked sandbox,
   suspend it from the page, see its state change; a bad key is refused on
   the page with its code; the page loads no resource from elsewhere and
   logs no error. Screenshot: docs/dashboard.png.
2. A three-node cluster (`nexus init` + two `nexus join`, HTTPS from the
   cluster CA) homing 1,000 sandboxes: the page's weight and its time to
   first paint and to the full table, measured in Chromium.

Every process and the browser stop at the end; all traffic stays on 127.0.0.1.
Run through scripts/browser-test.sh (which installs what it needs).
"""
import json
import os
import pathlib
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

ROOT = pathlib.Path(__file__).resolve().parent.parent
NEXUS = str(ROOT / "target/debug/nexus")
SANDBOXES = 1000
procs = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nexus(*args, env=None, check=True):
    out = subprocess.run([NEXUS, *args], capture_output=True, text=True, env=env, timeout=120)
    if check and out.returncode != 0:
        sys.exit(f"nexus {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out.stdout.strip()


def spawn(*args, log):
    proc = subprocess.Popen([NEXUS, *args], stdout=log, stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc


def wait_ready(url, context=None, within=60):
    deadline = time.time() + within
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ready", context=context, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url} was not ready within {within} s")


def browser():
    options = webdriver.ChromeOptions()
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                 "--ignore-certificate-errors", "--no-proxy-server"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options)


def sign_in(driver, url, key):
    driver.get(url + "/")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()


def wait(driver, seconds=10, poll=0.1):
    # The page re-renders its tables every 2 s: an element found a moment ago may be gone.
    return WebDriverWait(driver, seconds, poll_frequency=poll,
                         ignored_exceptions=(StaleElementReferenceException,))


def state_of(driver, sandbox):
    return driver.find_element(By.CSS_SELECTOR, f"#sb-{sandbox} td.state").text


def click(driver, css):
    def clicked(d):
        d.find_element(By.CSS_SELECTOR, css).click()
        return True
    wait(driver).until(clicked)


def single_node(work, driver):
    data = work / "single"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    spawn("up", "--listen", f"127.0.0.1:{port}", "--data-dir", str(data), log=open(work / "up.log", "w"))
    wait_ready(url)
    env = dict(os.environ, NEXUS_NODE=url, NEXUS_DATA_DIR=str(data))
    env.pop("NEXUS_API_KEY", None)
    book = work / "echo.workbook"
    nexus("workbook", "pack", str(ROOT / "examples/echo-wat"), "-o", str(book), env=env)
    sandbox = nexus("dock", str(book), "--name", "echo", env=env)
    subprocess.run([NEXUS, "call", sandbox], input="hi", text=True, env=env, capture_output=True, check=True)
    key = (data / "admin.key").read_text().strip()

    # A wrong key is refused on the page, by code.
    sign_in(driver, url, "nxk_wrong")
    WebDriverWait(driver, 10).until(ready.text_to_be_present_in_element((By.ID, "sign-in-error"), "AUTH_INVALID_KEY"))

    sign_in(driver, url, key)
    wait(driver).until(lambda d: state_of(d, sandbox) == "active")
    wait(driver).until(lambda d: d.find_element(By.ID, "node-1").text.startswith("1 leader"))
    click(driver, f"#sb-{sandbox} button[data-verb=suspend]")
    wait(driver).until(lambda d: state_of(d, sandbox) == "suspended")
    # The page's own action shows up on the node.
    info = json.loads(nexus("--json", "sandbox", "info", sandbox, env=env))
    assert info["state"] == "suspended", info
    # An action the node refuses lands in "Recent errors" with its code.
    click(driver, f"#sb-{sandbox} button[data-verb=suspend]")
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "errors"), "SANDBOX_INVALID_TRANSITION"))
    # The key is in this tab's sessionStorage, nowhere in cookies.
    assert driver.execute_script("return sessionStorage.getItem('nexus.api_key')") == key
    assert driver.get_cookies() == [], driver.get_cookies()
    time.sleep(0.5)
    driver.save_screenshot(str(ROOT / "docs/dashboard.png"))
    problems = [e for e in driver.get_log("browser")
                if e["level"] == "SEVERE" and "401" not in e["message"] and "409" not in e["message"]]
    assert not problems, problems
    print(f"single node: signed in, saw {sandbox} active, suspended it from the page, screenshot docs/dashboard.png")


def write_config(path, listen, data, raft, node_id=None):
    lines = [f'listen = "{listen}"', f'data_dir = "{data}"']
    if node_id:
        lines.append(f"node_id = {node_id}")
    lines += ["", "[cluster]", f'raft_listen = "{raft}"']
    path.write_text("\n".join(lines) + "\n")


def three_nodes(work, driver):
    nodes = []
    for i in (1, 2, 3):
        api, raft = free_port(), free_port()
        config = work / f"n{i}.toml"
        write_config(config, f"127.0.0.1:{api}", work / f"n{i}", f"127.0.0.1:{raft}", 1 if i == 1 else None)
        nodes.append({"config": str(config), "url": f"https://127.0.0.1:{api}", "raft": f"127.0.0.1:{raft}"})
    first = nodes[0]
    nexus("--config", first["config"], "init", "--token-uses", "2")
    spawn("--config", first["config"], "serve", log=open(work / "n1.log", "w"))
    ca = ssl.create_default_context(cafile=str(work / "n1/tls/ca.pem"))
    wait_ready(first["url"], ca)
    token = work / "n1/tls/join-token"
    for i, node in enumerate(nodes[1:], start=2):
        spawn("join", "--token-file", str(token), "--peer", first["raft"], "--config", node["config"],
              log=open(work / f"n{i}.log", "w"))
    for node in nodes[1:]:
        wait_ready(node["url"], ca, within=120)
    key = (work / "n1/admin.key").read_text().strip()
    env = dict(os.environ, NEXUS_NODE=first["url"], NEXUS_CA=str(work / "n1/tls/ca.pem"), NEXUS_API_KEY=key)
    book = (work / "echo.workbook").read_bytes()
    started = time.time()
    for i in range(SANDBOXES):
        request = urllib.request.Request(f"{first['url']}/v1/sandboxes?name=s{i}", data=book, method="POST",
                                         headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, context=ca, timeout=30) as r:
            assert r.status == 201, r.status
    docked = time.time() - started
    homes = {}
    for s in json.loads(nexus("--json", "sandbox", "ls", env=env))["sandboxes"]:
        homes[s["home_node"]] = homes.get(s["home_node"], 0) + 1

    runs = []
    for _ in range(3):
        driver.delete_all_cookies()
        driver.get(first["url"] + "/")
        driver.execute_script("sessionStorage.clear()")
        sign_in(driver, first["url"], key)
        wait(driver, 60).until(lambda d: d.find_element(By.ID, "sandbox-count").text == str(SANDBOXES))
        figures = driver.execute_script("""
            const paint = performance.getEntriesByType('paint').find(e => e.name === 'first-contentful-paint');
            const nav = performance.getEntriesByType('navigation')[0];
            const resources = performance.getEntriesByType('resource');
            const api = resources.filter(r => r.name.includes('/v1/'));
            return {
              fcp_ms: paint ? paint.startTime : null,
              page_bytes: nav.transferSize + resources.filter(r => !r.name.includes('/v1/')).reduce((n, r) => n + r.transferSize, 0),
              sandboxes_json_bytes: Math.max(...api.filter(r => r.name.endsWith('/v1/sandboxes')).map(r => r.transferSize)),
              rows: document.querySelectorAll('#sandboxes tbody tr').length,
            };""")
        # Time from submitting the key to the full table, measured by polling.
        driver.execute_script("sessionStorage.clear()")
        driver.get(first["url"] + "/")
        t0 = time.time()
        sign_in(driver, first["url"], key)
        wait(driver, 60, poll=0.02).until(
            lambda d: d.find_element(By.ID, "sandbox-count").text == str(SANDBOXES))
        figures["table_ms"] = round((time.time() - t0) * 1000)
        runs.append(figures)
    print(f"three nodes: docked {SANDBOXES} sandboxes in {docked:.1f} s, homes {dict(sorted(homes.items()))}")
    for run in runs:
        print(f"  first contentful paint {run['fcp_ms']:.0f} ms, page {run['page_bytes']} bytes "
              f"(html+js+css), /v1/sandboxes {run['sandboxes_json_bytes']} bytes, "
              f"sign-in to {run['rows']} rows {run['table_ms']} ms")
    assert all(run["rows"] == SANDBOXES for run in runs)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="nexus-browser-"))
    driver = browser()
    try:
        single_node(work, driver)
        three_nodes(work, driver)
    finally:
        driver.quit()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(work, ignore_errors=True)
    print("browser test passed")


if __name__ == "__main__":
    main()
