/* SPDX-License-Identifier: MIT */
/*
 * The subset of the PJRT C API that accelbench calls, declared here so the pjrt backend builds
 * with nothing but the C compiler (no XLA checkout). Layouts and the order of the function table
 * follow openxla/xla `xla/pjrt/c/pjrt_c_api.h` at PJRT_API_MAJOR 0, PJRT_API_MINOR 113 (the
 * copy in zml/xla, commit 5698450); the slot order of the table up to PJRT_Buffer_ReadyEvent was
 * compared with the header at minor 33 as well, where it is the same. Only structs this code
 * fills or reads are declared, with every field up to the last one of that version: XLA-built
 * plugins refuse an args struct smaller than the one they were compiled with ("Unexpected ...
 * size") and accept larger ones, so declaring from a new header keeps older plugins working.
 * Function slots accelbench does not call are `void *` placeholders that keep the offsets.
 *
 * Shared by the backend (backends/pjrt*.c) and the stand-in plugin of the tests
 * (tests/fake_pjrt.c). Names keep the header's spelling so they can be checked against it.
 */
#ifndef AB_PJRT_API_H
#define AB_PJRT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AB_PJRT_HEADER_MAJOR 0
#define AB_PJRT_HEADER_MINOR 113
/* The oldest minor version whose table and args layouts were compared with these declarations
 * (fields are only ever appended within major version 0, so every version from here to the
 * header's is a prefix of what is declared). */
#define AB_PJRT_MIN_MINOR 33

typedef struct PJRT_Extension_Base PJRT_Extension_Base;
typedef struct PJRT_Error PJRT_Error;
typedef struct PJRT_Event PJRT_Event;
typedef struct PJRT_Client PJRT_Client;
typedef struct PJRT_Device PJRT_Device;
typedef struct PJRT_Memory PJRT_Memory;
typedef struct PJRT_DeviceDescription PJRT_DeviceDescription;
typedef struct PJRT_Executable PJRT_Executable;
typedef struct PJRT_LoadedExecutable PJRT_LoadedExecutable;
typedef struct PJRT_Buffer PJRT_Buffer;
typedef struct PJRT_Buffer_MemoryLayout PJRT_Buffer_MemoryLayout;
typedef struct PJRT_ExecuteContext PJRT_ExecuteContext;
typedef struct PJRT_MultiSlice_Config PJRT_MultiSlice_Config;

typedef struct PJRT_Api_Version {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    int major_version;
    int minor_version;
} PJRT_Api_Version;

typedef struct PJRT_Error_Destroy_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Error *error;
} PJRT_Error_Destroy_Args;

typedef struct PJRT_Error_Message_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    const PJRT_Error *error;
    const char *message; /* out, lives as long as error */
    size_t message_size; /* out */
} PJRT_Error_Message_Args;

typedef enum {
    PJRT_NamedValue_kString = 0,
    PJRT_NamedValue_kInt64,
    PJRT_NamedValue_kInt64List,
    PJRT_NamedValue_kFloat,
    PJRT_NamedValue_kBool,
} PJRT_NamedValue_Type;

typedef struct PJRT_NamedValue {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    const char *name;
    size_t name_size;
    PJRT_NamedValue_Type type;
    union {
        const char *string_value;
        int64_t int64_value;
        const int64_t *int64_array_value;
        float float_value;
        bool bool_value;
    };
    size_t value_size;
} PJRT_NamedValue;

typedef struct PJRT_Plugin_Initialize_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
} PJRT_Plugin_Initialize_Args;

typedef struct PJRT_Plugin_Attributes_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    const PJRT_NamedValue *attributes; /* out, lives as long as the process */
    size_t num_attributes;             /* out */
} PJRT_Plugin_Attributes_Args;

typedef struct PJRT_Event_Destroy_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Event *event;
} PJRT_Event_Destroy_Args;

typedef struct PJRT_Event_Await_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Event *event;
} PJRT_Event_Await_Args;

typedef struct PJRT_Client_Create_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    const PJRT_NamedValue *create_options;
    size_t num_options;
    void *kv_get_callback; /* the key-value store of multi-host clients: unused */
    void *kv_get_user_arg;
    void *kv_put_callback;
    void *kv_put_user_arg;
    PJRT_Client *client; /* out */
    void *kv_try_get_callback;
    void *kv_try_get_user_arg;
} PJRT_Client_Create_Args;

typedef struct PJRT_Client_Destroy_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Client *client;
} PJRT_Client_Destroy_Args;

/* PJRT_Client_PlatformName_Args and PJRT_Client_PlatformVersion_Args have this layout. */
typedef struct PJRT_Client_PlatformName_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Client *client;
    const char *platform_name; /* out, owned by the client */
    size_t platform_name_size; /* out */
} PJRT_Client_PlatformName_Args;
typedef PJRT_Client_PlatformName_Args PJRT_Client_PlatformVersion_Args;

typedef struct PJRT_Client_AddressableDevices_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Client *client;
    PJRT_Device *const *addressable_devices; /* out */
    size_t num_addressable_devices;          /* out */
} PJRT_Client_AddressableDevices_Args;

typedef struct PJRT_Program {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    char *code;
    size_t code_size;
    const char *format; /* "mlir": MLIR text or bytecode */
    size_t format_size;
} PJRT_Program;

typedef struct PJRT_Client_Compile_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Client *client;
    const PJRT_Program *program;
    const char *compile_options; /* a serialized xla.CompileOptionsProto */
    size_t compile_options_size;
    PJRT_LoadedExecutable *executable; /* out */
} PJRT_Client_Compile_Args;

/* Element types, in the header's order. */
typedef enum {
    PJRT_Buffer_Type_INVALID = 0,
    PJRT_Buffer_Type_PRED,
    PJRT_Buffer_Type_S8,
    PJRT_Buffer_Type_S16,
    PJRT_Buffer_Type_S32,
    PJRT_Buffer_Type_S64,
    PJRT_Buffer_Type_U8,
    PJRT_Buffer_Type_U16,
    PJRT_Buffer_Type_U32,
    PJRT_Buffer_Type_U64,
    PJRT_Buffer_Type_F16,
    PJRT_Buffer_Type_F32,
    PJRT_Buffer_Type_F64,
    PJRT_Buffer_Type_BF16,
} PJRT_Buffer_Type;

typedef enum {
    PJRT_HostBufferSemantics_kImmutableOnlyDuringCall = 0,
    PJRT_HostBufferSemantics_kImmutableUntilTransferCompletes,
    PJRT_HostBufferSemantics_kImmutableZeroCopy,
    PJRT_HostBufferSemantics_kMutableZeroCopy,
} PJRT_HostBufferSemantics;

typedef struct PJRT_Client_BufferFromHostBuffer_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Client *client;
    const void *data;
    PJRT_Buffer_Type type;
    const int64_t *dims;
    size_t num_dims;
    const int64_t *byte_strides; /* NULL: dense, major-to-minor */
    size_t num_byte_strides;
    PJRT_HostBufferSemantics host_buffer_semantics;
    PJRT_Device *device;
    PJRT_Memory *memory;
    PJRT_Buffer_MemoryLayout *device_layout;
    PJRT_Event *done_with_host_buffer; /* out */
    PJRT_Buffer *buffer;               /* out */
} PJRT_Client_BufferFromHostBuffer_Args;

typedef struct PJRT_DeviceDescription_Kind_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_DeviceDescription *device_description;
    const char *device_kind; /* out, "TPU v5 lite" */
    size_t device_kind_size; /* out */
} PJRT_DeviceDescription_Kind_Args;

typedef struct PJRT_Device_GetDescription_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Device *device;
    PJRT_DeviceDescription *device_description; /* out */
} PJRT_Device_GetDescription_Args;

typedef struct PJRT_Device_MemoryStats_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Device *device;
    int64_t bytes_in_use; /* out: the only field every plugin sets */
    int64_t peak_bytes_in_use;
    bool peak_bytes_in_use_is_set;
    int64_t num_allocs;
    bool num_allocs_is_set;
    int64_t largest_alloc_size;
    bool largest_alloc_size_is_set;
    int64_t bytes_limit; /* out: user-allocatable device memory */
    bool bytes_limit_is_set;
    int64_t bytes_reserved;
    bool bytes_reserved_is_set;
    int64_t peak_bytes_reserved;
    bool peak_bytes_reserved_is_set;
    int64_t bytes_reservable_limit;
    bool bytes_reservable_limit_is_set;
    int64_t largest_free_block_bytes;
    bool largest_free_block_bytes_is_set;
    int64_t pool_bytes;
    bool pool_bytes_is_set;
    int64_t peak_pool_bytes;
    bool peak_pool_bytes_is_set;
    int64_t peak_allocated_bytes;
    bool peak_allocated_bytes_is_set;
} PJRT_Device_MemoryStats_Args;

typedef struct PJRT_LoadedExecutable_Destroy_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_LoadedExecutable *executable;
} PJRT_LoadedExecutable_Destroy_Args;

typedef struct PJRT_ExecuteOptions {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    void **send_callbacks;
    void **recv_callbacks;
    size_t num_send_ops;
    size_t num_recv_ops;
    int launch_id;
    const int64_t *non_donatable_input_indices;
    size_t num_non_donatable_input_indices;
    PJRT_ExecuteContext *context;
    const char *call_location;
    size_t num_tasks;
    int *task_ids;
    int64_t *incarnation_ids;
    PJRT_MultiSlice_Config *multi_slice_config;
    bool use_major_to_minor_data_layout_for_callbacks;
    void *hlo_output_callbacks;
    size_t num_hlo_output_callbacks;
} PJRT_ExecuteOptions;

typedef struct PJRT_LoadedExecutable_Execute_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_LoadedExecutable *executable;
    PJRT_ExecuteOptions *options;
    PJRT_Buffer *const *const *argument_lists; /* [num_devices][num_args] */
    size_t num_devices;
    size_t num_args;
    PJRT_Buffer **const *output_lists;   /* [num_devices][num_outputs], caller-allocated */
    PJRT_Event **device_complete_events; /* [num_devices], out */
    PJRT_Device *execute_device;
} PJRT_LoadedExecutable_Execute_Args;

typedef struct PJRT_Buffer_Destroy_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Buffer *buffer;
} PJRT_Buffer_Destroy_Args;

typedef struct PJRT_Buffer_ToHostBuffer_Args {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Buffer *src;
    PJRT_Buffer_MemoryLayout *host_layout;
    void *dst;
    size_t dst_size;
    PJRT_Event *event; /* out */
} PJRT_Buffer_ToHostBuffer_Args;

#define AB_PJRT_FN(name) PJRT_Error *(*name)(name##_Args * args)

/* The function table GetPjrtApi() returns, up to the last slot accelbench calls. */
typedef struct PJRT_Api {
    size_t struct_size;
    PJRT_Extension_Base *extension_start;
    PJRT_Api_Version pjrt_api_version;
    void (*PJRT_Error_Destroy)(PJRT_Error_Destroy_Args *args);
    void (*PJRT_Error_Message)(PJRT_Error_Message_Args *args);
    void *PJRT_Error_GetCode;
    AB_PJRT_FN(PJRT_Plugin_Initialize);
    AB_PJRT_FN(PJRT_Plugin_Attributes);
    AB_PJRT_FN(PJRT_Event_Destroy);
    void *PJRT_Event_IsReady;
    void *PJRT_Event_Error;
    AB_PJRT_FN(PJRT_Event_Await);
    void *PJRT_Event_OnReady;
    AB_PJRT_FN(PJRT_Client_Create);
    AB_PJRT_FN(PJRT_Client_Destroy);
    AB_PJRT_FN(PJRT_Client_PlatformName);
    void *PJRT_Client_ProcessIndex;
    AB_PJRT_FN(PJRT_Client_PlatformVersion);
    void *PJRT_Client_Devices;
    AB_PJRT_FN(PJRT_Client_AddressableDevices);
    void *PJRT_Client_LookupDevice;
    void *PJRT_Client_LookupAddressableDevice;
    void *PJRT_Client_AddressableMemories;
    AB_PJRT_FN(PJRT_Client_Compile);
    void *PJRT_Client_DefaultDeviceAssignment;
    AB_PJRT_FN(PJRT_Client_BufferFromHostBuffer);
    void *PJRT_DeviceDescription_Id;
    void *PJRT_DeviceDescription_ProcessIndex;
    void *PJRT_DeviceDescription_Attributes;
    AB_PJRT_FN(PJRT_DeviceDescription_Kind);
    void *PJRT_DeviceDescription_DebugString;
    void *PJRT_DeviceDescription_ToString;
    AB_PJRT_FN(PJRT_Device_GetDescription);
    void *PJRT_Device_IsAddressable;
    void *PJRT_Device_LocalHardwareId;
    void *PJRT_Device_AddressableMemories;
    void *PJRT_Device_DefaultMemory;
    AB_PJRT_FN(PJRT_Device_MemoryStats);
    void *PJRT_Memory_slots[5];      /* Id, Kind, DebugString, ToString, AddressableByDevices */
    void *PJRT_Executable_slots[10]; /* Destroy .. Serialize */
    AB_PJRT_FN(PJRT_LoadedExecutable_Destroy);
    void *PJRT_LoadedExecutable_GetExecutable;
    void *PJRT_LoadedExecutable_AddressableDevices;
    void *PJRT_LoadedExecutable_Delete;
    void *PJRT_LoadedExecutable_IsDeleted;
    AB_PJRT_FN(PJRT_LoadedExecutable_Execute);
    void *PJRT_Executable_DeserializeAndLoad;
    void *PJRT_LoadedExecutable_Fingerprint;
    AB_PJRT_FN(PJRT_Buffer_Destroy);
    void *PJRT_Buffer_slots[11]; /* ElementType .. CopyToDevice */
    AB_PJRT_FN(PJRT_Buffer_ToHostBuffer);
} PJRT_Api;

/* The smallest api->struct_size that holds every slot above. */
#define AB_PJRT_API_NEEDED (offsetof(PJRT_Api, PJRT_Buffer_ToHostBuffer) + sizeof(void *))

/* xla.CompileOptionsProto { executable_build_options (field 3) { num_replicas (4): 1,
 * num_partitions (5): 1 } }: the smallest options that compile for one device (an empty
 * message parses but asks for 0 replicas). */
#define AB_PJRT_COMPILE_OPTIONS     "\x1a\x04\x20\x01\x28\x01"
#define AB_PJRT_COMPILE_OPTIONS_LEN 6

#endif
