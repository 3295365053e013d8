#requires -Version 7.4
<#
.SYNOPSIS
    The C SDK install test: the tarball from tools/New-CSdkPackage.ps1, unpacked and used the way a
    C developer would, against the emulator.
.DESCRIPTION
    1. The tarball holds exactly the SDK's files (Get-PmpCSdkLayout: no test files, nothing else),
       under one top folder, owner 0:0, no absolute or '..' paths; the header and LICENSE are the
       repository's; the .pc, .cmake and README files hold no absolute build path; on Linux the
       shared library's SONAME is set and it carries no RPATH.
    2. It is unpacked with tar into a fresh temporary folder: that folder is the install prefix.
    3. examples/c/send_mail.c and tests/c/smoke.c are built with
       `pkg-config --cflags --libs pmp-mail` (PKG_CONFIG_PATH=<prefix>/lib/pkgconfig), and with
       CMake from tests/c/sdk (find_package(pmp-mail CONFIG REQUIRED), CMAKE_PREFIX_PATH=<prefix>)
       once for the shared library and once with PMP_MAIL_STATIC=ON; find_package's version rules
       are checked (MAJOR.MINOR is accepted, the next and previous minor are refused before 1.0).
    4. Each build's smoke checks that the header's PMP_VERSION_* macros are what the library's
       pmp_version() returns; each send_mail runs against the emulator (--demo --strict) and the
       emulator's control API shows exactly those messages.
    Prints "N passed, M failed" last and throws when a check failed.

    Needs a C compiler ($env:CC, gcc or cc), pkg-config, cmake and make; on Debian/Ubuntu as root
    the missing ones are installed with apt-get. The emulator comes from target/<profile>
    (build.ps1 build makes it).
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-CSdkPackage.ps1
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/Test-CSdkPackage.ps1 -Path artifacts/pmp-mail-0.2.0-linux-x64.tar.gz
#>
[CmdletBinding()]
param(
    # The tarball (default: artifacts/pmp-mail-<version>-<rid>.tar.gz).
    [string] $Path,
    # The cargo profile the emulator binary comes from (default: debug, else release).
    [string] $EmulatorProfile
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
$version = Get-PmpVersion
$layout = Get-PmpCSdkLayout -Version $version
if (-not $Path) { $Path = Join-Path $repo 'artifacts' $layout.FileName }
if (-not (Test-Path -LiteralPath $Path -PathType Leaf)) {
    throw "$Path is missing: make it with tools/New-CSdkPackage.ps1"
}
$Path = (Resolve-Path -LiteralPath $Path).Path
if ($IsWindows) {
    throw 'The C SDK install test does not run on Windows yet (it builds with cc and pkg-config; an MSVC step would go here).'
}
if (-not $EmulatorProfile) {
    $EmulatorProfile = if (Test-Path -LiteralPath (Get-PmpEmulatorPath -CargoProfile debug)) { 'debug' } else { 'release' }
}

# --- prerequisites ---
$ccCandidates = @($env:CC, 'gcc', 'cc') | Where-Object { $_ }
$cc = $ccCandidates | ForEach-Object { Get-Command $_ -CommandType Application -ErrorAction Ignore } | Select-Object -First 1
if (-not $cc) { Install-PmpSystemPackage -Command gcc -Package gcc; $cc = Get-Command gcc -CommandType Application }
$cc = $cc.Source
Install-PmpSystemPackage -Command pkg-config -Package pkg-config
Install-PmpSystemPackage -Command cmake -Package cmake
Install-PmpSystemPackage -Command make -Package make
Install-PmpSystemPackage -Command tar -Package tar
if ($IsLinux) { Install-PmpSystemPackage -Command readelf -Package binutils }

$checks = New-PmpCheckRun
function Step([string] $StepName, [scriptblock] $StepBody) { Invoke-PmpCheck $checks $StepName $StepBody }
function Fail([string] $Message) { Write-Host $Message -ForegroundColor Red; $false }

$work = Join-Path ([System.IO.Path]::GetTempPath()) ('pmp-csdk-test-' + [guid]::NewGuid().ToString('n'))
New-Item -ItemType Directory -Path $work | Out-Null
$work = (Resolve-Path -LiteralPath $work).Path
$unpacked = Join-Path $work 'unpacked'
$prefix = Join-Path $unpacked $layout.Top
$libdir = Join-Path $prefix 'lib'
$build = Join-Path $work 'build'
New-Item -ItemType Directory -Path $unpacked, $build | Out-Null
$emulator = $null
$savedPkgConfigPath = $env:PKG_CONFIG_PATH
$savedLdPath = $env:LD_LIBRARY_PATH
try {
    Write-Host "C SDK $Path ($('{0:N0}' -f (Get-Item -LiteralPath $Path).Length) bytes)" -ForegroundColor Cyan
    Invoke-Native tar @('-tvzf', $Path)

    # --- 1. what the tarball holds ---
    Step 'the tarball holds exactly the SDK files, under one top folder, owned by 0:0' {
        $expected = @{ "$($layout.Top)/" = 'Directory' }
        foreach ($e in $layout.Entries) {
            $expected[$(if ($e.Kind -eq 'Directory') { "$($layout.Top)/$($e.Path)/" } else { "$($layout.Top)/$($e.Path)" })] = $e
        }
        $ok = $true
        $seen = @{}
        $file = [System.IO.File]::OpenRead($Path)
        try {
            $reader = [System.Formats.Tar.TarReader]::new([System.IO.Compression.GZipStream]::new($file, [System.IO.Compression.CompressionMode]::Decompress))
            while ($null -ne ($entry = $reader.GetNextEntry())) {
                $name = $entry.Name
                $seen[$name] = $true
                if ($name.StartsWith('/') -or $name -match '(^|/)\.\.(/|$)' -or $name -match '\\') { $ok = Fail "unsafe path: $name" }
                if (-not $expected.ContainsKey($name)) { $ok = Fail "not part of the SDK: $name ($($entry.EntryType))"; continue }
                if ($entry.Uid -ne 0 -or $entry.Gid -ne 0) { $ok = Fail "$name is owned by $($entry.Uid):$($entry.Gid)" }
                $want = $expected[$name]
                $kind = if ($want -is [string]) { $want } else { $want.Kind }
                $type = switch ($entry.EntryType) { 'Directory' { 'Directory' } 'SymbolicLink' { 'SymbolicLink' } { $_ -in 'RegularFile', 'V7RegularFile' } { 'File' } default { "$_" } }
                if ($type -ne $kind) { $ok = Fail "$name is a $type, expected a $kind" }
                if ($kind -eq 'SymbolicLink' -and $entry.LinkName -ne $want.Target) { $ok = Fail "$name points to '$($entry.LinkName)', expected '$($want.Target)'" }
            }
        }
        finally { $file.Dispose() }
        foreach ($name in $expected.Keys) { if (-not $seen.ContainsKey($name)) { $ok = Fail "missing: $name" } }
        $ok
    }

    Step 'no test files, sources or debug files in the tarball' {
        $names = @(& tar -tzf $Path)
        $bad = @($names | Where-Object { $_ -match '(^|/)tests?(/|$)|\.(c|rs|ps1|psm1|pdb|o|orig)$|(^|/)\.' })
        if ($bad) { return Fail "unexpected entries: $($bad -join ', ')" }
        Write-Host "$($names.Count) entries"
        $true
    }

    # --- 2. unpack as a user would ---
    Step 'tar -xzf into a fresh folder' {
        Invoke-Native tar @('-xzf', $Path, '-C', $unpacked)
        Test-Path -LiteralPath (Join-Path $prefix 'include/pmp_mail.h')
    }

    Step 'the header and LICENSE are the repository''s' {
        $ok = $true
        foreach ($pair in @(@('include/pmp_mail.h', 'include/pmp_mail.h'), @('LICENSE', 'LICENSE'))) {
            $packed = Join-Path $prefix $pair[0]
            $source = Join-Path $repo $pair[1]
            if ((Get-FileHash -LiteralPath $packed).Hash -ne (Get-FileHash -LiteralPath $source).Hash) { $ok = Fail "$($pair[0]) differs from the repository's $($pair[1])" }
        }
        $ok
    }

    Step 'no absolute build paths in the .pc, .cmake and README files; a relocatable prefix' {
        $ok = $true
        $texts = @($layout.Entries | Where-Object { $_.Role -in 'pkgconfig', 'cmake-config', 'cmake-version', 'readme' })
        $forbidden = @($repo, (Get-PmpTargetDirectory), [System.IO.Path]::GetTempPath().TrimEnd('/'), $HOME, '/work/', '/root/', '/home/', '/tmp/') |
            Where-Object { $_ } | Select-Object -Unique
        foreach ($e in $texts) {
            $text = Get-Content -LiteralPath (Join-Path $prefix $e.Path) -Raw
            foreach ($path in $forbidden) {
                if ($text.Contains($path)) { $ok = Fail "$($e.Path) holds the absolute path $path" }
            }
            # Outside the README (whose examples unpack to /opt), no absolute path at all.
            if ($e.Role -ne 'readme') {
                $absolute = [regex]::Matches($text, '(?m)(?:^|[\s"=;:(])(/[A-Za-z][^\s"]*)') | ForEach-Object { $_.Groups[1].Value }
                if ($absolute) { $ok = Fail "$($e.Path) holds absolute paths: $($absolute -join ', ')" }
            }
        }
        $pc = Get-Content -LiteralPath (Join-Path $prefix 'lib/pkgconfig/pmp-mail.pc') -Raw
        if ($pc -notmatch '(?m)^prefix=\$\{pcfiledir\}/\.\./\.\.\s*$') { $ok = Fail 'pmp-mail.pc does not set prefix=${pcfiledir}/../..' }
        $config = Get-Content -LiteralPath (Join-Path $prefix 'lib/cmake/pmp-mail/pmp-mailConfig.cmake') -Raw
        if (-not $config.Contains('${CMAKE_CURRENT_LIST_DIR}/../../..')) { $ok = Fail 'pmp-mailConfig.cmake does not compute the prefix from CMAKE_CURRENT_LIST_DIR' }
        $ok
    }

    if ($IsLinux) {
        Step "the shared library's SONAME is $($layout.Soname), with no RPATH" {
            $shared = ($layout.Entries | Where-Object Role -EQ 'shared').Path
            $dynamic = (& readelf -d (Join-Path $prefix $shared)) -join "`n"
            Write-Host (($dynamic -split "`n" | Where-Object { $_ -match 'NEEDED|SONAME|RPATH|RUNPATH' }) -join "`n")
            $ok = $true
            if ($dynamic -notmatch "\(SONAME\)\s+Library soname: \[$([regex]::Escape($layout.Soname))\]") { $ok = Fail "SONAME is not $($layout.Soname)" }
            if ($dynamic -match '\((RPATH|RUNPATH)\)') { $ok = Fail 'the library carries an RPATH/RUNPATH' }
            $ok
        }
    }

    # --- 3. build as a user would ---
    $programs = [ordered]@{
        send_mail = Join-Path $repo 'examples/c/send_mail.c'
        smoke     = Join-Path $repo 'tests/c/smoke.c'
    }
    $exe = [ordered]@{}
    $env:PKG_CONFIG_PATH = Join-Path $libdir 'pkgconfig'
    # The programs must find the library through their rpath, not the environment.
    $env:LD_LIBRARY_PATH = $null

    Step 'pkg-config: version, flags and Libs.private from the unpacked prefix' {
        $ok = $true
        $modversion = (& pkg-config --modversion pmp-mail)
        if ($LASTEXITCODE -ne 0 -or $modversion -ne $version) { $ok = Fail "pkg-config --modversion pmp-mail: '$modversion', expected $version" }
        $flags = (& pkg-config --cflags --libs pmp-mail) -join ' '
        $static = (& pkg-config --static --libs pmp-mail) -join ' '
        $pcLibdir = (& pkg-config --variable=libdir pmp-mail)
        Write-Host "pkg-config --cflags --libs pmp-mail: $flags`npkg-config --static --libs pmp-mail: $static"
        $include = [regex]::Match($flags, '-I(\S+)').Groups[1].Value
        if (-not $include -or [System.IO.Path]::GetFullPath($include) -ne (Join-Path $prefix 'include')) { $ok = Fail "-I is '$include', not $prefix/include" }
        if ([System.IO.Path]::GetFullPath($pcLibdir) -ne $libdir) { $ok = Fail "libdir is '$pcLibdir', not $libdir" }
        if ($static -notmatch '-lpthread' -or $static -notmatch '-lm\b') { $ok = Fail 'Libs.private lacks -lpthread/-lm' }
        $ok
    }

    foreach ($program in $programs.Keys) {
        $output = Join-Path $build "$program-pkgconfig"
        $exe["$program (pkg-config)"] = $output
        Step "build $program.c with pkg-config --cflags --libs pmp-mail" {
            $flags = @(& pkg-config --cflags --libs pmp-mail | ForEach-Object { $_ -split '\s+' } | Where-Object { $_ })
            $pcLibdir = (& pkg-config --variable=libdir pmp-mail)
            Invoke-Native $cc (@('-Wall', '-Wextra', '-Wpedantic', '-Werror', '-std=c11', $programs[$program]) + $flags +
                @("-Wl,-rpath,$pcLibdir", '-o', $output))
            Test-Path -LiteralPath $output
        }
    }

    $cmakeSource = Join-Path $repo 'tests/c/sdk'
    $minorRequest = "$($version.Split('.')[0]).$($version.Split('.')[1])"
    foreach ($variant in 'shared', 'static') {
        $dir = Join-Path $build "cmake-$variant"
        foreach ($program in $programs.Keys) { $exe["$program (CMake, $variant)"] = Join-Path $dir $program }
        Step "CMake ($variant): find_package(pmp-mail $minorRequest CONFIG REQUIRED), build" {
            $configure = @('-S', $cmakeSource, '-B', $dir, "-DCMAKE_PREFIX_PATH=$prefix", "-DCMAKE_C_COMPILER=$cc",
                '-DCMAKE_BUILD_TYPE=Release', "-DPMP_MAIL_REQUEST=$minorRequest", "-DPMP_MAIL_STATIC=$(if ($variant -eq 'static') { 'ON' } else { 'OFF' })")
            Invoke-Native cmake $configure
            Invoke-Native cmake @('--build', $dir)
            $cache = Get-Content -LiteralPath (Join-Path $dir 'CMakeCache.txt') -Raw
            $found = [regex]::Match($cache, '(?m)^pmp-mail_DIR:PATH=(.+)$').Groups[1].Value.Trim()
            if ([System.IO.Path]::GetFullPath($found) -ne (Join-Path $prefix 'lib/cmake/pmp-mail')) { return Fail "CMake found pmp-mail in '$found', not in the unpacked prefix" }
            $true
        }
    }

    Step 'CMake: find_package refuses versions this one does not satisfy' {
        $major, $minor = [int]$version.Split('.')[0], [int]$version.Split('.')[1]
        $refused = @("$major.$($minor + 1)", "$($major + 1).0")
        if ($major -eq 0 -and $minor -gt 0) { $refused += "0.$($minor - 1)" }
        $ok = $true
        foreach ($request in $refused) {
            $dir = Join-Path $build "cmake-refuse-$request"
            $run = Invoke-NativeCapture cmake @('-S', $cmakeSource, '-B', $dir, "-DCMAKE_PREFIX_PATH=$prefix", "-DCMAKE_C_COMPILER=$cc", "-DPMP_MAIL_REQUEST=$request")
            if ($run.ExitCode -eq 0) { $ok = Fail "find_package(pmp-mail $request) accepted $version" }
            elseif (-not ($run.StandardError + $run.StandardOutput).Contains('pmp-mailConfig.cmake, version: ' + $version)) {
                $ok = Fail "find_package(pmp-mail $request) failed for another reason"
            }
            else { Write-Host "find_package(pmp-mail $request): refused, as it should be" -ForegroundColor Green }
        }
        $ok
    }

    if ($IsLinux) {
        Step 'the programs load the unpacked library (shared) or none (static)' {
            $ok = $true
            foreach ($label in $exe.Keys) {
                $dynamic = (& readelf -d $exe[$label]) -join "`n"
                $needs = $dynamic -match "\(NEEDED\)\s+Shared library: \[$([regex]::Escape($layout.Soname))\]"
                if ($label -like '*static*') {
                    if ($dynamic -match 'libpmp_mail') { $ok = Fail "$label (static) needs a libpmp_mail shared library" }
                    continue
                }
                if (-not $needs) { $ok = Fail "$label does not need $($layout.Soname)" }
                $resolved = (& ldd $exe[$label]) -join "`n"
                $line = ($resolved -split "`n" | Where-Object { $_ -match [regex]::Escape($layout.Soname) }) -join ''
                Write-Host "$label`: $($line.Trim())"
                if (-not $line.Contains("$libdir/")) { $ok = Fail "$label loads $($layout.Soname) from somewhere else than $libdir" }
            }
            $ok
        }
    }

    # --- 4. run against the emulator ---
    $emulator = Start-PmpEmulator -CargoProfile $EmulatorProfile -Demo -Strict -StateDir (Join-Path $work 'state') `
        -StandardErrorPath (Join-Path $work 'emulator.err')
    $mailbox = 'alerts@contoso.onmicrosoft.com'
    $config = Join-Path $work 'config.json'
    New-PmpEmulatorClientConfig -Emulator $emulator -Secret 'demo-secret-value' -TimeoutSeconds 60 |
        ConvertTo-Json -Depth 5 | Set-Content -LiteralPath $config -Encoding utf8NoBOM

    $subjects = [System.Collections.Generic.List[string]]::new()
    foreach ($label in $exe.Keys) {
        if ($label -like 'smoke*') {
            Step "run $label" {
                $run = Invoke-NativeCapture $exe[$label] @()
                $run.ExitCode -eq 0 -and $run.StandardOutput -match '(?m)^3 passed, 0 failed'
            }
        }
        else {
            $subject = "C SDK: $label"
            $subjects.Add($subject)
            Step "run $label against the emulator" {
                $run = Invoke-NativeCapture $exe[$label] @($config, $mailbox, 'ops@contoso.com', $subject)
                $run.ExitCode -eq 0 -and $run.StandardOutput.Contains("pmp-mail $version") -and $run.StandardOutput -match '(?m)^sent: .*"status":"sent"'
            }
        }
    }

    Step 'the emulator received exactly those messages' {
        $messages = @(Invoke-PmpEmulatorControl $emulator 'messages')
        $arrived = @($messages | ForEach-Object { $_.subject } | Sort-Object)
        Write-Host "arrived: $($arrived -join ' | ')"
        $wrongMailbox = @($messages | Where-Object { $_.mailbox -ne $mailbox })
        if ($wrongMailbox) { return Fail "messages for another mailbox: $($wrongMailbox.mailbox -join ', ')" }
        if (Compare-Object $arrived @($subjects | Sort-Object)) { return Fail "expected '$($subjects -join "', '")'" }
        $true
    }
}
finally {
    $env:PKG_CONFIG_PATH = $savedPkgConfigPath
    $env:LD_LIBRARY_PATH = $savedLdPath
    Stop-PmpEmulator $emulator
    Show-PmpEmulatorLog $checks $emulator
    Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
}
Complete-PmpCheckRun $checks 'C SDK install test'
