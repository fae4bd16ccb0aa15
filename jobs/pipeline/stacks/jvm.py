"""Java projects: Maven and Gradle (Groovy/Kotlin DSL), wrappers, version, Spring Boot."""

from __future__ import annotations

import re

from jobs.pipeline.stacks.model import Stack, dns_label
from jobs.pipeline.stacks.tree import Tree, first_match

DEFAULT_VERSION = "21"
WEB_STARTERS = ("spring-boot-starter-web", "spring-boot-starter-webflux")


def detect(tree: Tree) -> Stack:
    gradle = tree.first("build.gradle.kts", "build.gradle")
    build = tree.text(gradle or "pom.xml") or ""
    reasons: list[str] = []
    if gradle:
        tool, wrapper = "gradle", tree.has("gradlew")
        settings = tree.text("settings.gradle.kts") or tree.text("settings.gradle") or ""
        name = first_match(r"rootProject\.name\s*=\s*[\"']([^\"']+)", [settings])
        dsl = "Kotlin" if gradle.endswith(".kts") else "Groovy"
        reasons.append(f"gradle build ({gradle}, {dsl} DSL"
                       + (", wrapper)" if wrapper else ", no wrapper)"))
        version = first_match(r"(?:JavaLanguageVersion\.of\(|VERSION_|Compatibility\s*=\s*"
                              r"[\"']?(?:JavaVersion\.VERSION_)?)(\d+)", [build])
        boot = "org.springframework.boot" in build
    else:
        tool, wrapper = "maven", tree.has("mvnw")
        no_deps = re.sub(r"<dependencies>.*?</dependencies>|<parent>.*?</parent>", "", build,
                         flags=re.S)
        name = first_match(r"<artifactId>([^<]+)</artifactId>", [no_deps])
        reasons.append("maven build (pom.xml" + (", wrapper)" if wrapper else ", no wrapper)"))
        version = first_match(r"<(?:java\.version|maven\.compiler\.release|maven\.compiler\."
                              r"source|release)>(\d+)<", [build])
        boot = "spring-boot" in build
    if version:
        reasons.append(f"java {version} from {gradle or 'pom.xml'}")
    stack = Stack(path=tree.root, name=dns_label(name or tree.root), language="java",
                  build_tool=tool, version=version or DEFAULT_VERSION,
                  manifests=[gradle or "pom.xml"], reasons=reasons)
    reasons = stack.reasons  # pydantic copied the list
    web = any(s in build for s in WEB_STARTERS)
    if boot and web:
        stack.kind, stack.framework = "service", "spring-boot"
        props = (tree.text("src/main/resources/application.properties") or "") + (
            tree.text("src/main/resources/application.yml") or "")
        port = first_match(r"(?:server\.port\s*[=:]\s*|server:\s*\n\s+port:\s*)(\d{2,5})",
                           [props])
        stack.port = int(port or 8080)
        stack.start_command = ["java", "-XX:MaxRAMPercentage=75", "-jar", "/app/app.jar"]
        reasons.append("service: Spring Boot with a web starter")
    else:
        stack.framework = "spring-boot" if boot else None
        reasons.append("library: " + ("Spring Boot without a web starter" if boot else
                                      "no Spring Boot web application"))
    if tool == "maven":
        mvn = "./mvnw" if wrapper else "mvn"
        stack.install_command = f"{mvn} -B -ntp dependency:go-offline"
        stack.test_command = f"{mvn} -B -ntp verify"
        stack.build_command = f"{mvn} -B -ntp -DskipTests package"
        if "maven-checkstyle-plugin" in build or "spotless-maven-plugin" in build:
            stack.lint_command = f"{mvn} -B -ntp " + (
                "spotless:check" if "spotless" in build else "checkstyle:check")
    else:
        gw = "./gradlew" if wrapper else "gradle"
        stack.test_command = f"{gw} test"
        stack.build_command = f"{gw} {'bootJar' if boot else 'assemble'}"
        if "spotless" in build or "checkstyle" in build:
            stack.lint_command = f"{gw} " + ("spotlessCheck" if "spotless" in build else
                                             "checkstyleMain")
    return stack
