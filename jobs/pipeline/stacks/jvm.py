"""Java projects: Maven and Gradle (Groovy/Kotlin DSL), wrappers, version, Spring Boot.

A multi-module build (settings.gradle `include`s, a Maven `<modules>` list) is a workspace:
each module is detected on its own, built from the root, and a module is a service when it
applies the Spring Boot plugin and a web starter reaches it (its own build, the root's
`subprojects {}`/`allprojects {}`, or a `project(':…')` it depends on)."""

from __future__ import annotations

import re

from jobs.pipeline.stacks.model import Stack, dns_label
from jobs.pipeline.stacks.runtime import compose_port
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "21"
# Starters that run an embedded web server (Boot 4 renamed -web to -webmvc: a prefix match);
# Spring Cloud's servers bring one too.
WEB_STARTERS = ("spring-boot-starter-web", "spring-cloud-config-server",
                "spring-cloud-starter-netflix-eureka-server", "spring-boot-admin-starter-server",
                "spring-cloud-starter-gateway")
GRADLE_BUILDS = ("build.gradle.kts", "build.gradle")
JAVA_VERSION = (r"(?:JavaLanguageVersion\.of\(|VERSION_(?:1_)?|Compatibility\s*=\s*[\"']?"
                r"(?:JavaVersion\.VERSION_)?(?:1\.)?|^\s*(?:java|jdk|jvmTarget)\w*[vV]ersion\s*="
                r"\s*[\"']?(?:1\.(?=8))?)(\d+)")


def _uncommented(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)


def gradle_modules(settings: str) -> list[str]:
    """Directories (relative to the build root) of the projects settings.gradle includes."""
    text = _uncommented(settings)
    paths: list[str] = []
    for m in re.finditer(r"\binclude\b\s*(?:\(([^)]*)\)|((?:[^\n]*,[ \t]*\n)*[^\n]*))", text):
        paths += re.findall(r"[\"']([^\"']+)[\"']", m.group(1) or m.group(2) or "")
    dirs = {p: p.strip(":").replace(":", "/") for p in paths}
    for name, where in re.findall(r"project\(\s*[\"']:?([^\"']+)[\"']\s*\)\.projectDir\s*=\s*"
                                  r"(?:file\(|new File\(\s*\w+\s*,)?\s*[\"']([^\"']+)[\"']", text):
        for path in dirs:  # a project renamed after its include (conductor-*) still matches
            flat = path.strip(":").replace(":", "-")
            if name == flat or name.endswith("-" + flat):
                dirs[path] = where.strip("./") or "."
    return sorted({d for d in dirs.values() if d and ".." not in d})


def workspace_members(tree: Tree) -> list[str] | None:
    """Module directories of a multi-module Gradle or Maven build rooted here, else None."""
    settings = tree.text("settings.gradle.kts") or tree.text("settings.gradle")
    if settings is not None:
        rels = gradle_modules(settings)
    else:
        pom = tree.text("pom.xml") or ""
        rels = re.findall(r"<module>\s*([^<\s]+)\s*</module>", _uncommented(pom))
    members = [tree.path(r) for r in rels if r != "." and any(
        tree.has(f"{r}/{b}") for b in (*GRADLE_BUILDS, "pom.xml", "src/main"))]
    return sorted(set(members)) or None


def _reaches(tree: Tree, root: Tree, build: str, needles: tuple[str, ...],
             seen: set[str]) -> str | None:
    """The module (its own build, or a `project(':…')` dependency's) that declares a needle."""
    if any(n in build for n in needles):
        return tree.root
    members = workspace_members(root) or []
    for dep in re.findall(r"project\(\s*(?:path\s*[:=]\s*)?[\"']:?([^\"']+)[\"']", build):
        flat = dep.replace(":", "/")
        found = next((m for m in members if m.removeprefix(root.root + "/") == flat), None) or (
            next((m for m in members if dep.replace(":", "-").endswith(
                "-" + m.rsplit("/", 1)[-1]) or m.rsplit("/", 1)[-1] == dep), None))
        if found is None or found in seen:
            continue
        seen.add(found)
        module = tree.at(found)
        text = module.text(module.first(*GRADLE_BUILDS, "pom.xml") or "pom.xml") or ""
        hit = _reaches(module, root, text, needles, seen)
        if hit:
            return hit
    return None


def _inherited(root_build: str) -> str:
    """What a root build applies to every module (`subprojects {}` / `allprojects {}`)."""
    at = re.search(r"\b(?:subprojects|allprojects)\s*\{", root_build)
    return root_build[at.start():] if at else ""


def detect(tree: Tree, workspace_root: str | None = None) -> Stack:
    gradle = tree.first(*GRADLE_BUILDS)
    build = tree.text(gradle or "pom.xml") or ""
    root = tree.at(workspace_root) if workspace_root else tree
    reasons: list[str] = [] if workspace_root is None else [
        f"module of the multi-module build at {workspace_root} (built from there)"]
    if gradle:
        tool, wrapper = "gradle", root.has("gradlew")
        root_build = root.text(root.first(*GRADLE_BUILDS) or "") or "" if workspace_root else ""
        settings = root.text("settings.gradle.kts") or root.text("settings.gradle") or ""
        name = (tree.root.rsplit("/", 1)[-1] if workspace_root else
                first_match(r"rootProject\.name\s*=\s*[\"']([^\"']+)", [settings]))
        dsl = "Kotlin" if gradle.endswith(".kts") else "Groovy"
        reasons.append(f"gradle build ({gradle}, {dsl} DSL"
                       + (", wrapper)" if wrapper else ", no wrapper)"))
        version = first_match(JAVA_VERSION, [build, root_build, root.text("gradle.properties")
                                             or ""])
        inherited = _inherited(root_build)
        boot = re.search(r"org\.springframework\.boot[\"')]", build + inherited) is not None and (
            not re.search(r"bootJar\s*\{[^}]*enabled\s*=\s*false", build))
        build = build + inherited
    else:
        tool, wrapper = "maven", root.has("mvnw")
        no_deps = re.sub(r"<dependencies>.*?</dependencies>|<parent>.*?</parent>", "", build,
                         flags=re.S)
        name = first_match(r"<artifactId>([^<]+)</artifactId>", [no_deps])
        reasons.append("maven build (pom.xml" + (", wrapper)" if wrapper else ", no wrapper)"))
        version = first_match(r"<(?:java\.version|maven\.compiler\.release|maven\.compiler\."
                              r"source|release)>(\d+)<",
                              [build, root.text("pom.xml") or "" if workspace_root else ""])
        boot = "spring-boot" in build
    if version:
        reasons.append(f"java {version} from the {'gradle' if gradle else 'maven'} build")
    stack = Stack(path=tree.root, name=dns_label(name or tree.root), language="java",
                  build_tool=tool, version=version or DEFAULT_VERSION,
                  manifests=[gradle or "pom.xml"], reasons=reasons,
                  workspace_root=workspace_root)
    reasons = stack.reasons  # pydantic copied the list
    web = _reaches(tree, root, build, WEB_STARTERS, {tree.root}) if boot else None
    if web and web != tree.root:
        reasons.append(f"the web starter comes from module {web}")
    if boot and web:
        stack.kind, stack.framework = "service", "spring-boot"
        props = "".join(tree.text(f"src/main/resources/{d}application.{ext}") or ""
                        for d in ("", "config/") for ext in ("properties", "yml", "yaml"))
        port = first_match(r"(?:server\.port\s*[=:]\s*|server:\s*\n\s+port:\s*)(\d{2,5})",
                           [props])
        composed = compose_port(root, tree.root.rsplit("/", 1)[-1]) if not port else None
        if composed:
            port = str(composed[0])
            reasons.append(f"port {port}: docker compose maps it for {composed[1]}")
        stack.port = int(port or 8080)
        stack.start_command = ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]
        reasons.append("service: Spring Boot with a web starter")
    else:
        stack.framework = "spring-boot" if boot else None
        reasons.append("library: " + ("Spring Boot without a web starter" if boot else
                                      "no Spring Boot web application"))
    if tool == "maven":
        mvn = "./mvnw" if wrapper else "mvn"
        module = f" -pl {member_dir(stack)} -am" if workspace_root else ""
        stack.install_command = f"{mvn} -B -ntp dependency:go-offline"
        stack.test_command = f"{mvn} -B -ntp verify"
        stack.build_command = f"{mvn} -B -ntp{module} -DskipTests package"
        if "maven-checkstyle-plugin" in build or "spotless-maven-plugin" in build:
            stack.lint_command = f"{mvn} -B -ntp " + (
                "spotless:check" if "spotless" in build else "checkstyle:check")
    else:
        gw = "./gradlew" if wrapper else "gradle"
        module = f" -p {member_dir(stack)}" if workspace_root else ""
        stack.test_command = f"{gw} test"
        stack.build_command = f"{gw}{module} {'bootJar' if boot else 'assemble'}"
        if "spotless" in build or "checkstyle" in build:
            stack.lint_command = f"{gw} " + ("spotlessCheck" if "spotless" in build else
                                             "checkstyleMain")
    return stack


def member_dir(stack: Stack) -> str:
    """The module's directory relative to the build root it is built from."""
    root = stack.build_root
    return stack.path if root == "." else stack.path.removeprefix(root + "/")
